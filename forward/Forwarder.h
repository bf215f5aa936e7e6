// Delivery to one destination: a persistent queue (spool/outgoing/<dest>/, handed over by
// Spool::on_outgoing), `threads` senders each with its own kept-open association, retries with
// exponential backoff. A peer that cannot be reached, or whose TLS certificate does not verify,
// pauses the whole destination (the instances' attempt counts do not grow: the peer never saw them), and the pause doubles once per outage, not
// once per sender that saw it fail; only a delivery that started after the pause ends the outage. A peer that answers a failure counts an attempt for that
// instance. A refusal that retrying cannot fix, or retry.max_attempts, moves the instance to
// quarantine/<reason>/ for this destination only.
// Associations: one at first; one more (up to `threads`) only while the queue is deep, and an
// extra one must be accepted within kPromptSeconds: a peer that serves fewer associations at a
// time (DCMTK storescp without --fork, many archives) holds or refuses it, and the count is capped
// for kCapSeconds with a warning, the instance going back to the front of the queue. Each outcome is reported to the spool
// (delivered, quarantined, dropped), which finishes the instance after its last destination.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/Config.h"
#include "forward/Sender.h"
#include "spool/Spool.h"

namespace metrics {
class GatewayMetrics;
}

namespace forward {

class Forwarder {
public:
    // `index` 0 is the first association; the others are extra ones (see above).
    using SenderFactory = std::function<std::unique_ptr<Sender>(int index)>;
    static constexpr int kPromptSeconds = 2;
    static constexpr int kCapSeconds = 60;
    static constexpr std::size_t kDeepQueue = 8;  // queued instances per open association before one more
    // Outputs kept in memory (Spool::publish) wait in memory only while the peer takes instances and
    // fewer than this many are queued; otherwise enqueue() writes them into outgoing/<dest>/.
    static constexpr std::size_t kMemoryQueue = 32;
    Forwarder(std::string destination, int threads, config::Retry retry, spool::Spool& spool, SenderFactory factory);
    ~Forwarder();

    // Observer of outcomes (may be null). Set before start().
    void set_metrics(metrics::GatewayMetrics* metrics) { metrics_ = metrics; }
    void start();  // listens on spool.on_outgoing(destination) and starts the senders
    // `record.parsed`, when set, is the instance's output already parsed (the worker's), sent
    // instead of reading the file on the first attempt; with `record.parsed.encoded`, the output's
    // bytes, which are not in outgoing/<dest>/ yet (written here or after a failed send).
    void enqueue(spool::InstanceRecord record);
    // Running sends finish; the queue stays on disk (outputs held in memory are made again from
    // their originals, still in incoming/, at the next start).
    void stop();
    std::size_t depth() const;
    // When the oldest instance queued or in flight was received (ms since epoch); 0 when none.
    std::int64_t oldest_received_ms() const;
    const std::string& destination() const { return destination_; }
    // How many times this destination was paused (one per outage); its current pause.
    int outages() const;
    std::chrono::milliseconds current_pause() const;
    int unreachable_attempts() const;  // sends that found the peer unreachable
    int associations_allowed() const;

private:
    using Clock = std::chrono::steady_clock;
    struct Item {
        spool::InstanceRecord record;  // its data set is dropped after the first attempt
        int attempts = 0;
    };
    void run(int index);
    std::chrono::milliseconds backoff(int failures) const;

    std::string destination_;
    int threads_count_;
    config::Retry retry_;
    spool::Spool& spool_;
    SenderFactory factory_;
    metrics::GatewayMetrics* metrics_ = nullptr;
    mutable std::mutex mutex_;
    // Two queues of waiting senders, so that one instance wakes one sender: cv_ for the senders
    // that may run (index < allowed_), extra_cv_ for the extra ones waiting to be allowed (woken
    // only when the queue turns deep or the count changes).
    std::condition_variable cv_;
    std::condition_variable extra_cv_;
    std::multimap<Clock::time_point, Item> ready_;  // by the time it may be sent
    std::size_t in_flight_ = 0;
    Clock::time_point paused_until_{};
    Clock::time_point paused_at_{};  // when the current outage's pause was set
    std::chrono::milliseconds pause_{0};
    int destination_failures_ = 0;   // outages in a row
    int outages_ = 0;
    int unreachable_attempts_ = 0;
    int allowed_ = 1;                  // senders that may run now
    bool delivering_ = false;          // the peer took an instance since the last outage
    Clock::time_point capped_until_{};
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace forward
