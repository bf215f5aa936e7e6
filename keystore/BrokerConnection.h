// One client connection to the broker's Unix socket: send a JSON request, wait (bounded) for the
// JSON reply. Not thread-safe; BrokerClient keeps a pool of these. Part of keystore_client.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace keystore {

// The broker could not be reached or did not answer in time. Messages carry no PHI.
class BrokerUnreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class BrokerConnection {
public:
    BrokerConnection(std::string socket_path, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~BrokerConnection();
    BrokerConnection(const BrokerConnection&) = delete;
    BrokerConnection& operator=(const BrokerConnection&) = delete;

    // Connects if needed, sends `request`, returns the reply. Throws BrokerUnreachable on a
    // connect, I/O or timeout failure (the connection is closed then; the next call reconnects).
    nlohmann::json request(const nlohmann::json& request);
    // Same with raw bytes (tests use it to send malformed frames); returns the raw reply body.
    std::string request_raw(const std::string& bytes);
    bool connected() const;
    void close();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace keystore
