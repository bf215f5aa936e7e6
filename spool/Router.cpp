#include "spool/Router.h"

#include <algorithm>
#include <cctype>

namespace spool {

namespace {
bool in(const std::vector<std::string>& list, const std::string& value) {
    return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}
std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

Router::Router(std::vector<config::Destination> destinations) : destinations_(std::move(destinations)) {}

bool Router::matches(const config::Match& when, const RouteFacts& facts) {
    if (!in(when.calling_ae, facts.calling_ae) || !in(when.modality, facts.modality) ||
        !in(when.sop_class, facts.sop_class_uid))
        return false;
    if (when.manufacturer.empty()) return true;
    const std::string m = lower(facts.manufacturer);
    return std::any_of(when.manufacturer.begin(), when.manufacturer.end(),
                       [&](const std::string& w) { return m.find(lower(w)) != std::string::npos; });
}

std::vector<std::string> Router::route(const RouteFacts& facts) const {
    std::vector<std::string> out;
    for (const auto& d : destinations_)
        if (matches(d.when, facts)) out.push_back(d.name);
    return out;
}

bool Router::needs_manufacturer() const {
    return std::any_of(destinations_.begin(), destinations_.end(),
                       [](const auto& d) { return !d.when.manufacturer.empty(); });
}

}  // namespace spool
