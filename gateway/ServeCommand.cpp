#include <iostream>

#include "gateway/Commands.h"

namespace gateway {

int run_serve(const config::Config&) {
    std::cerr << "deid-gateway serve: not built yet: the DIMSE receiver and forwarder (issue 5) are missing\n";
    return 1;
}

}  // namespace gateway
