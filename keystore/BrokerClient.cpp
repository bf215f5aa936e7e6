#include "keystore/BrokerClient.h"

namespace keystore {

BrokerClient::BrokerClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}
BrokerClient::~BrokerClient() = default;

deid::PseudonymReply BrokerClient::resolve(const deid::PseudonymRequest&) {
    throw deid::PseudonymUnavailable("keystore broker client not built yet");
}

}  // namespace keystore
