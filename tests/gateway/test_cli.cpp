#include "gateway/Commands.h"

#include <catch2/catch.hpp>

#include "tests/support/Process.h"

using testsupport::run;

namespace {
const std::string kGateway = std::string(DEID_BIN_DIR) + "/deid-gateway";
}

TEST_CASE("check-config accepts the embedded default and a valid file") {
    auto r = run({kGateway, "check-config"});
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("config OK") != std::string::npos);

    testsupport::TempDir dir;
    testsupport::write_file(dir / "ok.json", R"({"listen": {"port": 4104}})");
    r = run({kGateway, "check-config", "--config", dir / "ok.json"});
    CHECK(r.exit_code == 0);
}

TEST_CASE("check-config refuses a bad file with exit code 2 and names the key") {
    testsupport::TempDir dir;
    testsupport::write_file(dir / "bad.json", R"({"listen": {"port": "abc"}, "extra": 1})");
    auto r = run({kGateway, "check-config", "--config", dir / "bad.json"});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find(R"(listen.port: expected an integer 0..65535, got "abc")") != std::string::npos);
    CHECK(r.output.find("extra: unknown key") != std::string::npos);

    r = run({kGateway, "check-config", "--config", dir / "missing.json"});
    CHECK(r.exit_code == 2);
    CHECK(r.output.find("cannot read") != std::string::npos);
}

TEST_CASE("nothing starts with a bad config") {
    testsupport::TempDir dir;
    testsupport::write_file(dir / "bad.json", R"({"workers": -3})");
    for (const char* command : {"serve", "scrub", "print-config", "quarantine"}) {
        std::vector<std::string> argv = {kGateway, command, "--config", dir / "bad.json"};
        if (std::string(command) == "scrub") argv.insert(argv.end(), {"--out", dir / "out", dir / "bad.json"});
        if (std::string(command) == "quarantine") argv.push_back("list");
        const auto r = run(argv);
        INFO(command << ": " << r.output);
        CHECK(r.exit_code == 2);
        CHECK(r.output.find("workers: expected an integer 1..256, got -3") != std::string::npos);
    }
}

TEST_CASE("print-config prints the effective config with defaults filled in") {
    testsupport::TempDir dir;
    testsupport::write_file(dir / "c.json", R"({"state_dir": ")" + dir.path() + R"(/state", "workers": 5})");
    const auto r = run({kGateway, "print-config", "--config", dir / "c.json"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("\"workers\": 5") != std::string::npos);
    CHECK(r.output.find("\"ae_title\": \"DEIDGW\"") != std::string::npos);
    CHECK(r.output.find(dir.path() + "/state/outbox") != std::string::npos);
}

TEST_CASE("every command answers --help and --version") {
    for (const char* command : {"serve", "scrub", "check-config", "print-config", "quarantine"}) {
        auto r = run({kGateway, command, "--help"});
        INFO(command);
        CHECK(r.exit_code == 0);
        CHECK(r.output.find("--config") != std::string::npos);
        r = run({kGateway, command, "--version"});
        CHECK(r.exit_code == 0);
        CHECK(r.output.find("deid-gateway 0.") != std::string::npos);
    }
    auto r = run({kGateway, "--help"});
    CHECK(r.exit_code == 0);
    r = run({kGateway, "frobnicate"});
    CHECK(r.exit_code == 2);
}
