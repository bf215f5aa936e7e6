// Catch2's main, with one change: a run whose filter matches no test case fails (exit code 2)
// instead of passing. CTest runs each test case by its name; a name CTest cannot pass on whole
// (one with a ';', which CMake splits lists at) would otherwise pass without running anything.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
    Catch::Session session;
    if (const int rc = session.applyCommandLine(argc, argv)) return rc;
    auto& config = session.configData();
    config.warnings = static_cast<Catch::WarnAbout::What>(config.warnings | Catch::WarnAbout::NoTests);
    return session.run();
}
