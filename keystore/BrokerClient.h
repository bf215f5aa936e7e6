// The gateway's side of the honest-broker boundary: a PseudonymSource that asks the broker
// (deid-keystore serve) over its Unix socket. It never opens the database or the key file.
// Thread-safe: a small pool of connections (one per concurrent caller), reconnecting after the
// broker restarts; answers are cached in bounded LRU maps so repeated UIDs and the same patient
// within a study cost no round trip. Failures throw deid::PseudonymUnavailable (no PHI).
#pragma once

#include <memory>
#include <string>

#include "deid/PseudonymSource.h"

namespace keystore {

class BrokerClient : public deid::PseudonymSource {
public:
    explicit BrokerClient(std::string socket_path);
    ~BrokerClient() override;
    deid::PseudonymReply resolve(const deid::PseudonymRequest& request) override;

private:
    struct Impl;
    std::string socket_path_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace keystore
