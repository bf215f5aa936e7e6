// Which destinations an instance goes to: destinations[].when (calling AE, modality, SOP class,
// manufacturer); a destination without conditions takes every instance.
#pragma once

#include <string>
#include <vector>

#include "config/Config.h"

namespace spool {

struct RouteFacts {
    std::string calling_ae;
    std::string modality;
    std::string sop_class_uid;
    std::string manufacturer;
};

class Router {
public:
    explicit Router(std::vector<config::Destination> destinations);
    std::vector<std::string> route(const RouteFacts& facts) const;  // destination names
    bool needs_manufacturer() const;
    static bool matches(const config::Match& when, const RouteFacts& facts);

private:
    std::vector<config::Destination> destinations_;
};

}  // namespace spool
