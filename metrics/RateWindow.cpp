#include "metrics/RateWindow.h"

#include <algorithm>

namespace metrics {

constexpr std::chrono::seconds RateWindow::kSlot;
constexpr std::size_t RateWindow::kSlots;

std::int64_t RateWindow::slot_of(Clock::time_point t) {
    // +1 so that no real slot is 0, the value of an entry never written.
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() / kSlot.count() + 1;
}

void RateWindow::add(std::uint64_t n, Clock::time_point now) {
    const auto id = slot_of(now);
    const auto i = static_cast<std::size_t>(id % static_cast<std::int64_t>(kSlots));
    std::lock_guard<std::mutex> lock(mutex_);
    if (slot_ids_[i] != id) {
        slot_ids_[i] = id;
        counts_[i] = 0;
    }
    counts_[i] += n;
}

std::uint64_t RateWindow::count(std::chrono::seconds window, Clock::time_point now) const {
    const auto slots = std::clamp<std::int64_t>((window.count() + kSlot.count() - 1) / kSlot.count(), 1,
                                                static_cast<std::int64_t>(kSlots));
    const auto newest = slot_of(now);
    std::uint64_t total = 0;
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < kSlots; ++i)
        if (slot_ids_[i] > newest - slots && slot_ids_[i] <= newest) total += counts_[i];
    return total;
}

double RateWindow::per_minute(std::chrono::seconds window, Clock::time_point now) const {
    if (window.count() <= 0) return 0;
    return static_cast<double>(count(window, now)) * 60.0 / static_cast<double>(window.count());
}

}  // namespace metrics
