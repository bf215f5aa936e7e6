// The gateway's side of the honest-broker boundary: a PseudonymSource that asks the broker
// (deid-keystore serve) over its Unix socket. It never opens the database or the key file.
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
    std::string socket_path_;
};

}  // namespace keystore
