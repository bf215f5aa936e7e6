// The one handler that decides every C-STORE response of the gateway (PS3.4 Annex B):
//   C000 the data set cannot be parsed, or has no SOP Class / Instance UID  (quarantined: malformed)
//   A900 the data set's SOP Class differs from the request's               (quarantined: sop-class-mismatch)
//   A700 the spool is over spool.max_bytes, the disk is short of spool.min_free_bytes, or the
//        durable write (Spool::admit: the reception journal's record, or the file's own syncs) failed
//   0000 only once the instance is durably in spool/incoming/ (Spool::admit, which hands it on).
//   A700 also for any exception inside the handler (logged): it never reaches DCMTK's loop.
#pragma once

#include "dimse/CStoreRequest.h"
#include "spool/ParsedInstance.h"
#include "spool/Spool.h"

namespace metrics {
class GatewayMetrics;
}

namespace receive {

class SpoolingStoreHandler : public dimse::CStoreHandler {
public:
    // The instance goes on with the data set parsed by the reception when `budget` allows.
    explicit SpoolingStoreHandler(spool::Spool& spool, spool::ParsedBudget* budget = nullptr);
    std::uint16_t handle_store(dimse::CStoreRequest& request) override;
    void set_metrics(metrics::GatewayMetrics* metrics) { metrics_ = metrics; }  // observer; may be null

private:
    std::uint16_t decide(dimse::CStoreRequest& request);
    std::uint16_t refuse_and_quarantine(const dimse::CStoreRequest& request, std::uint16_t status,
                                        const std::string& reason, const std::string& detail);
    spool::Spool& spool_;
    spool::ParsedBudget* budget_;
    metrics::GatewayMetrics* metrics_ = nullptr;
};

}  // namespace receive
