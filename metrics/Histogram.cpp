#include "metrics/Histogram.h"

#include <algorithm>
#include <stdexcept>

namespace metrics {

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
    if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
        throw std::invalid_argument("histogram bounds must be strictly ascending");
    counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
    // The first bound >= value ("le" is inclusive).
    const auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    std::lock_guard<std::mutex> lock(mutex_);
    ++counts_[index];
    sum_ += value;
    ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.upper_bounds = bounds_;
    std::lock_guard<std::mutex> lock(mutex_);
    std::uint64_t running = 0;
    for (const auto c : counts_) {
        running += c;
        s.cumulative.push_back(running);
    }
    s.sum = sum_;
    s.count = count_;
    return s;
}

std::vector<double> Histogram::seconds_buckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
}

}  // namespace metrics
