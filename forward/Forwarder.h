// Delivery to one destination: a persistent queue (spool/outgoing/<dest>/), `threads` senders each
// with its own kept-open association, retries with exponential backoff. A peer that cannot be
// reached pauses the whole destination (the instances' attempt counts do not grow: the peer never
// saw them); a peer that answers a failure counts an attempt for that instance. A refusal that
// retrying cannot fix, or retry.max_attempts, moves the instance to quarantine/<reason>/.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/Config.h"
#include "forward/Sender.h"
#include "spool/Spool.h"

namespace forward {

class Forwarder {
public:
    using SenderFactory = std::function<std::unique_ptr<Sender>()>;
    Forwarder(std::string destination, int threads, config::Retry retry, spool::Spool& spool, SenderFactory factory);
    ~Forwarder();

    // Called (on a forwarding thread) once this destination is finished with an id: delivered,
    // quarantined, or its file gone. Set before start().
    void set_on_done(std::function<void(const std::string& id)> on_done) { on_done_ = std::move(on_done); }
    void start();
    // Ignored when already queued. `parsed`, when given, is the instance's file already parsed
    // (the worker's output), sent instead of reading the file on the first attempt.
    void enqueue(const std::string& id, spool::ParsedInstance parsed = {});
    void stop();                          // running sends finish; the queue stays on disk
    std::size_t depth() const;
    const std::string& destination() const { return destination_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Item {
        std::string id;
        int attempts = 0;
        spool::ParsedInstance parsed;  // dropped after the first attempt (a send may change it)
    };
    void run(int index);
    std::chrono::milliseconds backoff(int failures) const;

    std::string destination_;
    int threads_count_;
    config::Retry retry_;
    spool::Spool& spool_;
    SenderFactory factory_;
    std::function<void(const std::string&)> on_done_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::multimap<Clock::time_point, Item> ready_;  // by the time it may be sent
    std::set<std::string> known_;                   // queued or in flight
    Clock::time_point paused_until_{};
    int destination_failures_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace forward
