#include <iostream>
#include <string>

#include "config/Config.h"

int main(int argc, char** argv) {
    if (argc >= 2 && std::string(argv[1]) == "--version") {
        std::cout << "deid-keystore " << config::version() << "\n";
        return 0;
    }
    std::cerr << "deid-keystore: not built yet: the honest broker (issue 4) is missing\n";
    return 1;
}
