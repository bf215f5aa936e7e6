// Observations counted into cumulative buckets (Prometheus type `histogram`): `_bucket{le=...}`,
// `_sum` and `_count`. The upper bounds are fixed at construction (ascending; +Inf is implied).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

namespace metrics {

class Histogram {
public:
    explicit Histogram(std::vector<double> upper_bounds);
    void observe(double value);

    struct Snapshot {
        std::vector<double> upper_bounds;
        std::vector<std::uint64_t> cumulative;  // one per bound, then the +Inf bucket (== count)
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;

    // Bounds for durations in seconds, from 1 ms to 5 min.
    static std::vector<double> seconds_buckets();

private:
    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::vector<std::uint64_t> counts_;  // per bucket (not cumulative), last = +Inf
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

}  // namespace metrics
