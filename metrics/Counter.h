// A monotonically increasing count (Prometheus type `counter`). Lock-free; safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace metrics {

class Counter {
public:
    void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

}  // namespace metrics
