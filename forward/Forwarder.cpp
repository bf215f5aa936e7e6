#include "forward/Forwarder.h"

#include <unistd.h>

#include <algorithm>

#include "common/Log.h"
#include "common/ThreadPriority.h"

namespace forward {

Forwarder::Forwarder(std::string destination, int threads, config::Retry retry, spool::Spool& spool, SenderFactory factory)
    : destination_(std::move(destination)),
      threads_count_(std::max(1, threads)),
      retry_(retry),
      spool_(spool),
      factory_(std::move(factory)) {}

Forwarder::~Forwarder() { stop(); }

void Forwarder::start() {
    for (int i = 0; i < threads_count_; ++i) threads_.emplace_back([this, i] { run(i); });
}

void Forwarder::enqueue(const std::string& id, spool::ParsedInstance parsed) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!known_.insert(id).second) return;
        ready_.emplace(Clock::now(), Item{id, 0, std::move(parsed)});
    }
    cv_.notify_one();
}

void Forwarder::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

std::size_t Forwarder::depth() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return known_.size();
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
        {
            std::unique_lock<std::mutex> lock(mutex_);
            for (;;) {
                if (stopping_) return;
                const auto now = Clock::now();
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
        }
        const std::string path = spool_.outgoing_path(destination_, item.id);
        if (::access(path.c_str(), F_OK) != 0) {  // purged or quarantined meanwhile
            {
                std::lock_guard<std::mutex> lock(mutex_);
                known_.erase(item.id);
            }
            if (on_done_) on_done_(item.id);
            continue;
        }
        if (!sender) sender = factory_();
        const auto result = sender->send(path, item.parsed);
        item.parsed = {};  // a retry reads the file
        std::unique_lock<std::mutex> lock(mutex_);
        if (result.kind == dimse::SendResult::Kind::Sent) {
            destination_failures_ = 0;
            lock.unlock();
            // The file goes before the id is forgotten, so a sweep cannot queue it again.
            spool_.remove_outgoing(destination_, item.id);
            lock.lock();
            known_.erase(item.id);
            lock.unlock();
            if (on_done_) on_done_(item.id);
            const auto received = spool::Spool::received_ms(item.id);
            const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            common::log(common::Level::info, who,
                "delivered " + item.id + " (" + result.detail + ", latency_ms=" +
                    std::to_string(received ? now_ms - received : 0) + ")");
            continue;
        }
        const bool unreachable = result.reason == "connect-failed" || result.reason == "association-rejected";
        if (result.kind == dimse::SendResult::Kind::Retry && unreachable) {
            ++destination_failures_;
            const auto wait = backoff(destination_failures_);
            paused_until_ = Clock::now() + wait;
            ready_.emplace(Clock::now(), item);
            lock.unlock();
            sender.reset();
            common::log(common::Level::warning, who,
                result.detail + "; destination paused for " + std::to_string(wait.count()) + " ms (" +
                    std::to_string(depth()) + " queued)");
            continue;
        }
        ++item.attempts;
        if (result.kind == dimse::SendResult::Kind::Refused || item.attempts >= retry_.max_attempts) {
            lock.unlock();
            spool::QuarantineRecord record;
            record.id = item.id;
            record.reason = result.kind == dimse::SendResult::Kind::Refused ? result.reason : "max-attempts";
            record.detail = result.detail;
            record.stage = "forward";
            record.destination = destination_;
            record.attempts = item.attempts;
            const auto ec = spool_.quarantine(path, record);
            common::log(common::Level::error, who,
                item.id + " not delivered: " + result.detail + "; " +
                    (ec ? "could not quarantine: " + ec.message() : "quarantined as " + record.reason + "/" + item.id));
            lock.lock();
            known_.erase(item.id);
            lock.unlock();
            if (!ec && on_done_) on_done_(item.id);
            continue;
        }
        const auto wait = backoff(item.attempts);
        ready_.emplace(Clock::now() + wait, item);
        lock.unlock();
        common::log(common::Level::warning, who,
            item.id + ": " + result.detail + "; attempt " + std::to_string(item.attempts) + " of " +
                std::to_string(retry_.max_attempts) + ", retry in " + std::to_string(wait.count()) + " ms");
    }
}

}  // namespace forward
