#include "forward/Forwarder.h"

#include <unistd.h>

#include <algorithm>

#include "common/Log.h"
#include "common/ThreadPriority.h"
#include "dimse/DimseError.h"
#include "metrics/GatewayMetrics.h"

namespace forward {

using common::Level;
using common::log;

Forwarder::Forwarder(std::string destination, int threads, config::Retry retry, spool::Spool& spool, SenderFactory factory)
    : destination_(std::move(destination)),
      threads_count_(std::max(1, threads)),
      retry_(retry),
      spool_(spool),
      factory_(std::move(factory)) {}

Forwarder::~Forwarder() { stop(); }

void Forwarder::start() {
    spool_.on_outgoing(destination_, [this](spool::InstanceRecord record) { enqueue(std::move(record)); });
    for (int i = 0; i < threads_count_; ++i) threads_.emplace_back([this, i] { run(i); });
}

void Forwarder::enqueue(spool::InstanceRecord record) {
    if (!record.parsed.encoded.empty()) {
        bool keep;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            keep = delivering_ && paused_until_ <= Clock::now() && ready_.size() < kMemoryQueue;
        }
        // A backlog waits on disk, as it always did: an output stays in memory only on its way to
        // a peer that is taking instances now. If it cannot be written it stays in memory (its only
        // copy but the original) and is sent from there.
        if (!keep && !spool_.write_outgoing(destination_, record.id, record.parsed.encoded)) {
            std::string().swap(record.parsed.encoded);
            record.parsed.encoded_lease.reset();
        }
    }
    bool deep;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(Clock::now(), Item{std::move(record), 0});
        deep = allowed_ < threads_count_ && ready_.size() > kDeepQueue * static_cast<std::size_t>(allowed_);
    }
    // One running sender takes it (any of them may); the extra ones only matter once it is deep.
    cv_.notify_one();
    if (deep) extra_cv_.notify_all();  // only the next in line (index == allowed_) may open
}

void Forwarder::stop() {
    spool_.on_outgoing(destination_, nullptr);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    extra_cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

std::size_t Forwarder::depth() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ready_.size() + in_flight_;
}

std::int64_t Forwarder::oldest_received_ms() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::int64_t oldest = 0;
    for (const auto& [when, item] : ready_) {
        const auto t = spool::Spool::received_ms(item.record.id);
        if (t > 0 && (oldest == 0 || t < oldest)) oldest = t;
    }
    return oldest;
}

int Forwarder::outages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return outages_;
}

std::chrono::milliseconds Forwarder::current_pause() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pause_;
}

int Forwarder::unreachable_attempts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return unreachable_attempts_;
}

int Forwarder::associations_allowed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return allowed_;
}

std::chrono::milliseconds Forwarder::backoff(int failures) const {
    long long ms = retry_.base_ms;
    for (int i = 1; i < failures && ms < retry_.cap_ms; ++i) ms *= 2;
    return std::chrono::milliseconds(std::min<long long>(ms, retry_.cap_ms));
}

void Forwarder::run(int index) {
    common::background_thread_priority();
    const std::string who = "forward " + destination_ + "#" + std::to_string(index);
    std::unique_ptr<Sender> sender;
    for (;;) {
        Item item;
        Clock::time_point started;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            for (;;) {
                if (stopping_) return;
                const auto now = Clock::now();
                if (index >= allowed_) {
                    // An extra association only while the queue is deep and no cap holds.
                    const bool deep = ready_.size() > kDeepQueue * static_cast<std::size_t>(allowed_);
                    // Only once the peer has taken an instance since the last outage: an extra
                    // association to a peer that is down proves nothing about its capacity.
                    if (index == allowed_ && deep && delivering_ && capped_until_ <= now && paused_until_ <= now) {
                        ++allowed_;
                    } else {
                        if (sender) sender.reset();  // not needed now: released
                        // Woken when the queue turns deep; the 1 s bound notices an ended cap.
                        extra_cv_.wait_for(lock, std::chrono::seconds(1));
                        continue;
                    }
                }
                if (!ready_.empty() && ready_.begin()->first <= now && paused_until_ <= now) break;
                if (ready_.empty()) {
                    // An idle association is released after a while; the next instance opens a new one.
                    if (cv_.wait_for(lock, std::chrono::seconds(15)) == std::cv_status::timeout && ready_.empty() &&
                        !stopping_)
                        sender.reset();
                } else {
                    cv_.wait_until(lock, std::max(ready_.begin()->first, paused_until_));
                }
            }
            item = std::move(ready_.begin()->second);
            ready_.erase(ready_.begin());
            ++in_flight_;
            started = Clock::now();
        }
        auto done = [&] {
            std::lock_guard<std::mutex> lock(mutex_);
            --in_flight_;
        };
        const std::string id = item.record.id;
        const std::string path = spool_.outgoing_path(destination_, id);
        // An output kept in memory has no file until a send fails (Spool::publish).
        const bool in_memory = !item.record.parsed.encoded.empty();
        if (!in_memory && ::access(path.c_str(), F_OK) != 0) {  // purged or quarantined meanwhile
            done();
            spool_.dropped(destination_, id);
            continue;
        }
        if (!sender) sender = factory_(index);
        const bool was_connected = sender->connected();
        const auto send_start = Clock::now();
        const auto result = sender->send(path, item.record.parsed);
        const double send_seconds = std::chrono::duration<double>(Clock::now() - send_start).count();
        if (result.kind != dimse::SendResult::Kind::Sent && in_memory) {
            // The retry or the quarantine below needs the file.
            if (const auto ec = spool_.write_outgoing(destination_, id, item.record.parsed.encoded)) {
                // Its only output is in memory (the original stays in incoming/): kept and sent
                // again from there, never dropped or quarantined without a file.
                const auto wait = backoff(item.attempts + 1);
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    ready_.emplace(Clock::now() + wait, std::move(item));
                    --in_flight_;
                }
                cv_.notify_one();
                sender.reset();
                log(Level::error, who,
                    id + ": " + result.detail + "; cannot write its output for a retry (" + ec.message() +
                        "): kept in memory, retry in " + std::to_string(wait.count()) + " ms");
                continue;
            }
        }
        item.record.parsed = {};  // a retry reads the file
        if (result.kind == dimse::SendResult::Kind::Sent) {
            bool grow = false;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                // Only a delivery that started after the current outage's pause was set ends the
                // outage: one whose answer was on its way when the peer went away says nothing of
                // the peer since (with it, the next failure paused for 100 ms again, not double).
                if (started >= paused_at_) {
                    destination_failures_ = 0;
                    pause_ = std::chrono::milliseconds(0);
                    delivering_ = true;
                }
                // The newest association works: the next may open at once if the queue is still deep.
                grow = index + 1 == allowed_ && allowed_ < threads_count_ &&
                       ready_.size() > kDeepQueue * static_cast<std::size_t>(allowed_);
            }
            if (grow) extra_cv_.notify_all();
            spool_.delivered(destination_, id, in_memory);
            done();
            const auto received = spool::Spool::received_ms(id);
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            if (metrics_) metrics_->delivered(destination_, received ? (now_ms - received) / 1000.0 : 0, send_seconds);
            if (result.resent)
                log(Level::warning, who, id + ": the association was dropped by the peer; resent on a new one");
            log(Level::info, who,
                "delivered " + id + " (" + result.detail + (in_memory ? ", from memory" : "") + ", latency_ms=" +
                    std::to_string(received ? now_ms - received : 0) + ")");
            continue;
        }
        // A peer whose certificate does not verify is unreachable too: its instances stay queued
        // (no attempt counted, never quarantined) until it presents a good certificate.
        const bool tls_failed = result.error == dimse::DimseError::tls_failed;
        const bool unreachable = result.error == dimse::DimseError::connect_failed ||
                                 result.error == dimse::DimseError::association_rejected || tls_failed;
        if (result.kind == dimse::SendResult::Kind::Retry && unreachable && !tls_failed && index > 0 && !was_connected) {
            // An extra association the peer did not accept promptly: it serves fewer at a time.
            // Not an outage: the instance goes back to the front, the count is capped for a while.
            int allowed;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                ++unreachable_attempts_;
                allowed_ = std::max(1, std::min(allowed_, index));
                allowed = allowed_;
                capped_until_ = Clock::now() + std::chrono::seconds(kCapSeconds);
                ready_.emplace(Clock::time_point{}, std::move(item));
                --in_flight_;
            }
            cv_.notify_all();
            sender.reset();
            log(Level::warning, who,
                "the peer did not accept association " + std::to_string(index + 1) + " within " +
                    std::to_string(kPromptSeconds) + " s (" + result.detail +
                    "): it serves fewer associations at a time; using " + std::to_string(allowed) + " for " +
                    std::to_string(kCapSeconds) + " s, the destination is not paused");
            continue;
        }
        if (metrics_) metrics_->delivery_failed(destination_, result.error ? result.reason() : "unknown");
        if (result.kind == dimse::SendResult::Kind::Retry && unreachable) {
            std::unique_lock<std::mutex> lock(mutex_);
            ++unreachable_attempts_;
            // One outage doubles the pause once: senders whose attempt started before the pause
            // was set saw the same outage and only put their instance back.
            const bool new_outage = started >= paused_at_;
            delivering_ = false;
            if (new_outage) {
                ++destination_failures_;
                ++outages_;
                pause_ = backoff(destination_failures_);
                paused_at_ = Clock::now();
                paused_until_ = paused_at_ + pause_;
            }
            const auto wait = pause_;
            ready_.emplace(Clock::now(), std::move(item));
            --in_flight_;
            const auto queued = ready_.size() + in_flight_;
            lock.unlock();
            cv_.notify_all();
            sender.reset();
            if (new_outage)
                log(Level::warning, who,
                    result.detail + "; destination paused for " + std::to_string(wait.count()) + " ms (" +
                        std::to_string(queued) + " queued)");
            continue;
        }
        ++item.attempts;
        if (result.kind == dimse::SendResult::Kind::Refused || item.attempts >= retry_.max_attempts) {
            spool::QuarantineRecord record;
            record.id = id;
            record.reason = result.kind == dimse::SendResult::Kind::Refused ? result.reason() : "max-attempts";
            record.detail = result.detail;
            record.attempts = item.attempts;
            const auto ec = spool_.quarantine_outgoing(destination_, id, record);
            if (!ec && metrics_) metrics_->quarantined("forward", record.reason);
            done();
            log(Level::error, who,
                id + " not delivered: " + result.detail + "; " +
                    (ec ? "could not quarantine: " + ec.message() : "quarantined as " + record.reason + "/" + id));
            continue;
        }
        const auto wait = backoff(item.attempts);
        const int attempts = item.attempts;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ready_.emplace(Clock::now() + wait, std::move(item));
            --in_flight_;
        }
        cv_.notify_one();
        log(Level::warning, who,
            id + ": " + result.detail + "; attempt " + std::to_string(attempts) + " of " +
                std::to_string(retry_.max_attempts) + ", retry in " + std::to_string(wait.count()) + " ms");
    }
}

}  // namespace forward
