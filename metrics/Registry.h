// The gateway's metrics: named families of counters, gauges and histograms, each with fixed label
// sets, exposed in the Prometheus text format (version 0.0.4). Label values come only from config
// (destination names), status codes and reason slugs, never from a data set.
// Metrics are created once and live as long as the registry; the references returned stay valid.
// Thread-safe. Collect hooks run at the start of every exposition (gauges that are read, not
// counted: queue depth, spool bytes, free disk).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/Counter.h"
#include "metrics/Gauge.h"
#include "metrics/Histogram.h"

namespace metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name, value; order kept

class Registry {
public:
    // The same name and labels return the same metric. Throws std::invalid_argument on a name that
    // is not a Prometheus metric or label name, or a name registered before with another type or help.
    Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
    Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
    Histogram& histogram(const std::string& name, const std::string& help, const std::vector<double>& upper_bounds,
                         const Labels& labels = {});

    void add_collect_hook(std::function<void()> hook);

    // Every family in name order, its metrics in label order: "# HELP", "# TYPE", samples.
    std::string exposition() const;

    static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

private:
    enum class Type { counter, gauge, histogram };
    struct Family {
        Type type;
        std::string help;
        std::map<Labels, std::unique_ptr<Counter>> counters;
        std::map<Labels, std::unique_ptr<Gauge>> gauges;
        std::map<Labels, std::unique_ptr<Histogram>> histograms;
    };
    Family& family(const std::string& name, const std::string& help, Type type, const Labels& labels);

    mutable std::mutex mutex_;
    std::map<std::string, Family> families_;
    std::vector<std::function<void()>> hooks_;
};

}  // namespace metrics
