#include "keystore/BrokerProcess.h"

#include <stdexcept>

namespace keystore {

BrokerProcess::BrokerProcess(const config::Config& config)
    : socket_path_(config.broker_socket()) {
    if (config.keystore.socket.empty()) throw std::runtime_error("the keystore broker is not built yet");
}

BrokerProcess::~BrokerProcess() = default;

}  // namespace keystore
