// Recent throughput: events counted into 5-second slots over the last 15 minutes, so the status
// page can say "per minute over the last 1, 5 and 15 minutes". Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace metrics {

class RateWindow {
public:
    using Clock = std::chrono::steady_clock;
    void add(std::uint64_t n = 1, Clock::time_point now = Clock::now());
    // Events in the last `window` (at most 15 min; rounded to whole slots).
    std::uint64_t count(std::chrono::seconds window, Clock::time_point now = Clock::now()) const;
    double per_minute(std::chrono::seconds window, Clock::time_point now = Clock::now()) const;

    static constexpr std::chrono::seconds kSlot{5};
    static constexpr std::size_t kSlots = 180;  // 15 min

private:
    static std::int64_t slot_of(Clock::time_point t);
    mutable std::mutex mutex_;
    std::array<std::uint64_t, kSlots> counts_{};
    std::array<std::int64_t, kSlots> slot_ids_{};  // which slot each entry holds
};

}  // namespace metrics
