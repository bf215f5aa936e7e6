// The gateway's metrics by name, and the per-destination record the status page shows. The stages
// call it where an outcome is decided (observers: nothing here decides anything). Label values are
// destination names (config), DIMSE status codes and reason slugs only.
//
//   deid_build_info{version}                                   1
//   deid_associations_total{outcome}                           accepted | rejected | aborted (of the
//                                                              accepted, those ended by an A-ABORT)
//   deid_cstore_requests_total{status}                         4 hex digits, as answered (PS3.4 Annex B)
//   deid_instances_received_total                              durably spooled (answered 0000)
//   deid_instances_deidentified_total
//   deid_instances_rejected_total{reason}                      profile.reject rules
//   deid_instances_quarantined_total{stage,reason}
//   deid_delivered_total{destination}
//   deid_delivery_failures_total{destination,reason}           failed attempts
//   deid_queue_depth{destination}, deid_queue_oldest_age_seconds{destination}
//   deid_spool_bytes, deid_spool_free_bytes
//   deid_receptions_durable_total{by}                          journal | file (docs/operations.md, Durability 1)
//   deid_journal_checkpoints_total, deid_journal_checkpoint_failures_total
//   deid_end_to_end_latency_seconds{destination}               histogram: received -> delivered
//   deid_stage_seconds{stage}                                  histogram: receive | deidentify | forward
//   deid_ocr_regions_read_total, deid_ocr_regions_cleaned_total
//   deid_broker_up, deid_broker_round_trip_seconds, deid_broker_alarms
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/RateWindow.h"
#include "metrics/Registry.h"

namespace metrics {

class GatewayMetrics {
public:
    GatewayMetrics(Registry& registry, const std::vector<std::string>& destinations, const std::string& version);

    Registry& registry() { return registry_; }

    void association(bool accepted);
    void association_aborted();  // an accepted association ended aborted (by either side)
    void cstore(std::uint16_t status);
    void received(double receive_seconds);
    void deidentified(double seconds, std::uint64_t ocr_regions_read = 0, std::uint64_t ocr_regions_cleaned = 0);
    void rejected(const std::string& reason);
    void quarantined(const std::string& stage, const std::string& reason);
    void delivered(const std::string& destination, double end_to_end_seconds, double send_seconds);
    void delivery_failed(const std::string& destination, const std::string& reason);
    void broker(bool up, double round_trip_seconds, double alarms = 0);  // alarms: the broker health's count

    // Queue and spool gauges, set by the serve command's collect hook.
    void queue(const std::string& destination, std::uint64_t depth, double oldest_age_seconds);
    void spool(std::uint64_t bytes, std::uint64_t free_bytes);
    // How receptions were made durable, and the journal's checkpoints: totals read from the spool.
    struct Durability {
        std::uint64_t by_journal = 0, by_file = 0, checkpoints = 0, checkpoint_failures = 0;
        std::uint64_t incoming_files_written = 0;  // of receptions held by their journal record alone
    };
    void durability(const Durability& totals);

    struct DestinationRecord {
        bool failing = false;
        std::uint64_t delivered = 0;
        std::uint64_t failed = 0;
        std::string last_success;   // ISO 8601 UTC
        std::string last_error;     // reason slug
        std::string last_error_at;  // ISO 8601 UTC
    };
    DestinationRecord destination(const std::string& name) const;

    // Per minute over the last 1, 5 and 15 minutes.
    struct Rates {
        std::string what;
        double last_1m = 0, last_5m = 0, last_15m = 0;
    };
    std::vector<Rates> throughput() const;

private:
    Registry& registry_;
    mutable std::mutex mutex_;
    std::map<std::string, DestinationRecord> destinations_;
    RateWindow received_rate_, deidentified_rate_, delivered_rate_, quarantined_rate_;
};

}  // namespace metrics
