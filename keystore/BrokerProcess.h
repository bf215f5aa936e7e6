// The gateway's own broker: with keystore.socket empty, `serve` and `scrub` start
// `deid-keystore serve` as a child process on config.broker_socket() and stop it when they stop.
// With keystore.socket set, nothing is started and the external broker's socket is used.
#pragma once

#include <string>

#include "config/Config.h"

namespace keystore {

class BrokerProcess {
public:
    // Starts the child if needed and waits until it answers; throws std::runtime_error (no PHI)
    // when it cannot start. config.source_path is passed on to the child (empty = embedded default).
    // The child binary is `deid-keystore` next to the running executable, else found on PATH.
    explicit BrokerProcess(const config::Config& config);
    ~BrokerProcess();  // SIGTERM to the child (if any), then wait (SIGKILL after 10 s)
    BrokerProcess(const BrokerProcess&) = delete;
    BrokerProcess& operator=(const BrokerProcess&) = delete;

    const std::string& socket_path() const { return socket_path_; }

private:
    void stop_child();
    std::string socket_path_;
    int child_pid_ = -1;
};

}  // namespace keystore
