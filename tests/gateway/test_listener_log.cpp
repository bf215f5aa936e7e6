// The gateway's log against a peer that puts control characters into its AE title (issue 14): the
// refusal is one line naming the escaped AE title and the address; no line is forged.
#include "common/Log.h"

#include <catch2/catch.hpp>

#include <sstream>
#include <thread>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;

TEST_CASE("a newline in a calling AE title cannot forge a line in the gateway's log") {
    Gateway gw(json{{"listen", {{"allowed_calling_ae", json::array({"MODALITY"})}}}});
    REQUIRE(gw.start());
    testdata::HeldAssociation forged("127.0.0.1", gw.port, "X\n2026 INFO Y", "DEIDGW");
    CHECK_FALSE(forged.open());
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (gw.log().find("refused: calling AE title not recognized") == std::string::npos &&
           std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(50ms);
    const std::string log = gw.log();
    INFO(log);
    CHECK(log.find("from 127.0.0.1 calling AE 'X\\x0a2026 INFO Y' called AE 'DEIDGW': refused: calling AE title not "
                   "recognized") != std::string::npos);
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) CHECK(line.rfind("2026 INFO Y", 0) != 0);
    // The log itself keeps any message on one line.
    CHECK(common::printable("a\nb\\c\x7f") == "a\\x0ab\\\\c\\x7f");
}
