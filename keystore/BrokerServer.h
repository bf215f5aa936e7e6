// `deid-keystore serve`: the honest broker. Owns the keystore folder (database + secret key),
// holds an exclusive lock on it (a second broker refuses to start), listens on a Unix socket
// (mode 0600, or 0660 with --socket-group) with Boost.Asio, and answers length-prefixed JSON
// requests (Frame.h, docs/keystore.md), pipelined or not, replies in request order. Serving runs on
// one Asio thread: the requests that are ready together form one batch; what the in-memory set of
// recorded mappings knows is answered without the database, the rest with one transaction (group
// commit) that commits before any reply of the batch. WAL checkpoints run on a second thread.
#pragma once

#include <string>

#include "config/Config.h"

namespace keystore {

struct BrokerOptions {
    std::string socket_group;  // empty: socket 0600 (gateway runs as the same user)
};

class BrokerServer {
public:
    BrokerServer(const config::Config& config, BrokerOptions options);
    // Serves until SIGTERM or SIGINT; returns the process exit code (0 clean stop, 3 lock held,
    // 2 any other start-up failure). Start-up problems are reported on stderr.
    int run();

private:
    config::Config config_;
    BrokerOptions options_;
};

// One log line on stderr: time, program, level, message. Never pass a PHI value.
void log_line(const char* level, const std::string& message);

}  // namespace keystore
