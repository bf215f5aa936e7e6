// The gateway's own broker: with keystore.socket empty, `serve` and `scrub` start
// `deid-keystore serve` as a child process on config.broker_socket() and stop it when they stop.
// With keystore.socket set, nothing is started and the external broker's socket is used.
// The child runs in its own process group, so a terminal's Ctrl-C reaches the gateway only, which
// drains and then stops the broker. With supervision on (serve), a child that dies is noticed
// within a second, reported, and started again with backoff (0.5 s doubling up to 30 s); up()
// says whether a broker is answering (for health reports; instances wait in the spool meanwhile).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/Config.h"

namespace keystore {

class BrokerProcess {
public:
    // What the supervisor reports (no PHI): error when the child died or cannot be started again,
    // info when it answers again.
    enum class Event { died, restarted, restart_failed };
    using Observer = std::function<void(Event, const std::string& message)>;

    // Starts the child if needed and waits until it answers; throws std::runtime_error (no PHI)
    // when it cannot start. config.source_path is passed on to the child (empty = embedded default).
    // The child binary is `deid-keystore` next to the running executable, else found on PATH.
    explicit BrokerProcess(const config::Config& config);
    ~BrokerProcess();  // stops supervision, SIGTERM to the child (if any), then wait (SIGKILL after 10 s)
    BrokerProcess(const BrokerProcess&) = delete;
    BrokerProcess& operator=(const BrokerProcess&) = delete;

    // Watches the child from a thread and restarts it when it dies; `observer` hears about it.
    // No effect for an external broker.
    void supervise(Observer observer);
    bool up() const { return up_.load(); }
    long child_pid() const { return child_pid_.load(); }  // -1 for an external broker
    const std::string& socket_path() const { return socket_path_; }

private:
    void start_child();  // throws std::runtime_error
    void stop_child();
    void watch();
    std::string socket_path_;
    std::vector<std::string> args_;
    std::atomic<long> child_pid_{-1};
    std::atomic<bool> up_{true};
    Observer observer_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread watcher_;
};

}  // namespace keystore
