#include "metrics/Registry.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace metrics {

namespace {

bool valid_name(const std::string& name, bool allow_colon) {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) return false;
    }
    return true;
}

// Label values: backslash, double quote and line feed escaped (the format's rule).
std::string escape_label(const std::string& v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

// HELP text: backslash and line feed escaped.
std::string escape_help(const std::string& v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    // The shortest text that reads back as the same double.
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

std::string label_text(const Labels& labels, const std::string& extra_name = "", const std::string& extra_value = "") {
    if (labels.empty() && extra_name.empty()) return "";
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ",";
        first = false;
        out += k + "=\"" + escape_label(v) + "\"";
    }
    if (!extra_name.empty()) {
        if (!first) out += ",";
        out += extra_name + "=\"" + escape_label(extra_value) + "\"";
    }
    return out + "}";
}

const char* type_name(int t) {
    switch (t) {
        case 0: return "counter";
        case 1: return "gauge";
        default: return "histogram";
    }
}

}  // namespace

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type, const Labels& labels) {
    if (!valid_name(name, true)) throw std::invalid_argument("not a metric name: " + name);
    for (const auto& [k, v] : labels)
        if (!valid_name(k, false) || k.rfind("__", 0) == 0 || k == "le")
            throw std::invalid_argument("not a label name: " + k);
    auto it = families_.find(name);
    if (it == families_.end()) it = families_.emplace(name, Family{type, help, {}, {}, {}}).first;
    if (it->second.type != type || it->second.help != help)
        throw std::invalid_argument("metric " + name + " registered before with another type or help");
    return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& f = family(name, help, Type::counter, labels);
    auto& slot = f.counters[labels];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& f = family(name, help, Type::gauge, labels);
    auto& slot = f.gauges[labels];
    if (!slot) slot = std::make_unique<Gauge>();
    return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& upper_bounds, const Labels& labels) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& f = family(name, help, Type::histogram, labels);
    auto& slot = f.histograms[labels];
    if (!slot) slot = std::make_unique<Histogram>(upper_bounds);
    return *slot;
}

void Registry::add_collect_hook(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    hooks_.push_back(std::move(hook));
}

std::string Registry::exposition() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        hooks = hooks_;
    }
    for (const auto& h : hooks) h();  // outside the lock: hooks set gauges

    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& [name, f] : families_) {
        out += "# HELP " + name + " " + escape_help(f.help) + "\n";
        out += "# TYPE " + name + " " + type_name(static_cast<int>(f.type)) + "\n";
        for (const auto& [labels, c] : f.counters)
            out += name + label_text(labels) + " " + number(static_cast<double>(c->value())) + "\n";
        for (const auto& [labels, g] : f.gauges) out += name + label_text(labels) + " " + number(g->value()) + "\n";
        for (const auto& [labels, h] : f.histograms) {
            const auto s = h->snapshot();
            for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
                const std::string le = i < s.upper_bounds.size() ? number(s.upper_bounds[i]) : "+Inf";
                out += name + "_bucket" + label_text(labels, "le", le) + " " +
                       number(static_cast<double>(s.cumulative[i])) + "\n";
            }
            out += name + "_sum" + label_text(labels) + " " + number(s.sum) + "\n";
            out += name + "_count" + label_text(labels) + " " + number(static_cast<double>(s.count)) + "\n";
        }
    }
    return out;
}

}  // namespace metrics
