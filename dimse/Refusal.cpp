#include "dimse/Refusal.h"

namespace dimse {

const char* slug(Refusal refusal) {
    switch (refusal) {
        case Refusal::connections_total: return "connections_total";
        case Refusal::connections_per_host: return "connections_per_host";
        case Refusal::no_request: return "no_request";
        case Refusal::tls_handshake: return "tls_handshake";
        case Refusal::request_unreadable: return "request_unreadable";
        case Refusal::called_ae_not_recognized: return "called_ae_not_recognized";
        case Refusal::calling_ae_not_recognized: return "calling_ae_not_recognized";
        case Refusal::associations_total: return "associations_total";
        case Refusal::associations_per_host: return "associations_per_host";
        case Refusal::associations_per_calling_ae: return "associations_per_calling_ae";
        case Refusal::shutting_down: return "shutting_down";
    }
    return "unknown";
}

RefusalLog::RefusalLog(Sink sink, int burst, std::chrono::seconds interval)
    : sink_(std::move(sink)), burst_(burst), interval_(interval), interval_start_(std::chrono::steady_clock::now()) {}

void RefusalLog::refused(Refusal refusal, const std::string& line) {
    const auto i = static_cast<std::size_t>(refusal);
    std::unique_lock<std::mutex> lock(mutex_);
    roll(std::chrono::steady_clock::now());
    ++totals_[i];
    if (written_ >= burst_) {
        ++suppressed_[i];
        return;
    }
    ++written_;
    lock.unlock();
    if (sink_) sink_(line);
}

void RefusalLog::tick() {
    std::lock_guard<std::mutex> lock(mutex_);
    roll(std::chrono::steady_clock::now());
}

void RefusalLog::roll(std::chrono::steady_clock::time_point now) {
    if (now - interval_start_ < interval_) return;
    std::string summary;
    std::uint64_t left_out = 0;
    for (std::size_t i = 0; i < kRefusalKinds; ++i) {
        if (suppressed_[i] == 0) continue;
        left_out += suppressed_[i];
        summary += (summary.empty() ? "" : ", ") + std::string(slug(static_cast<Refusal>(i))) + " " +
                   std::to_string(suppressed_[i]);
    }
    if (left_out > 0 && sink_)
        sink_(std::to_string(left_out) + " more refusals in the last " + std::to_string(interval_.count()) +
              " s not logged one by one (" + summary + ")");
    suppressed_.fill(0);
    written_ = 0;
    interval_start_ = now;
}

std::uint64_t RefusalLog::total(Refusal refusal) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return totals_[static_cast<std::size_t>(refusal)];
}

}  // namespace dimse
