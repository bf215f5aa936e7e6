#include <iostream>

#include "gateway/Commands.h"

namespace gateway {

int run_scrub(const config::Config&, const std::string&, const std::vector<std::string>&) {
    std::cerr << "deid-gateway scrub: not built yet: the de-identification engine (issue 3) is missing\n";
    return 1;
}

}  // namespace gateway
