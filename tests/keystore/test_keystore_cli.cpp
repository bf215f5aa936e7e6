// deid-keystore admin CLI gaps: `audit list` (filters, --json), `export` without --force refuses
// to replace a file, `health [--wait]`. Real broker processes on temporary keystores.
#include "keystore/AdminCommands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/BrokerConnection.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using nlohmann::json;
using testsupport::TempDir;

namespace {

const std::string kKeystore = std::string(DEID_BIN_DIR) + "/deid-keystore";

// A keystore with a config file; a broker started on it is stopped by the destructor.
struct Site {
    TempDir dir;
    std::string config_path = dir / "config.json";
    std::string state = dir / "var";
    std::string socket = state + "/run/keystore.sock";
    testsupport::Child broker;

    Site() { testsupport::write_file(config_path, "{\"state_dir\": \"" + state + "\"}"); }

    testsupport::RunResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv = {kKeystore};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--config");
        argv.push_back(config_path);
        return testsupport::run(argv, 60s);
    }

    void start() {
        broker = testsupport::Child({kKeystore, "serve", "--config", config_path}, dir / "broker.log");
        REQUIRE(cli({"health", "--wait", "30"}).exit_code == 0);
    }

    json resolve(const std::string& patient_id, const std::vector<std::string>& uids) {
        keystore::BrokerConnection c(socket, 10s);
        return c.request({{"op", "resolve"}, {"issuer", "HOSP"}, {"patient_id", patient_id}, {"uids", uids}, {"instance_uid", "1.2.826.0.1.9"}});
    }
};

json parse(const testsupport::RunResult& r) {
    INFO(r.output);
    const json j = json::parse(r.output, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("export refuses to replace an existing file unless --force, and leaves no partial file", "[cli]") {
    Site site;
    site.start();
    const json r = site.resolve("PHI-ID-4711", {"1.2.826.0.1.3680043.2.1125.77"});
    REQUIRE(r["ok"] == true);
    const std::string out_dir = site.dir / "exports";
    std::filesystem::create_directory(out_dir);
    const std::string out = out_dir + "/map.csv";
    testsupport::write_file(out, "an earlier export, to keep\n");

    const auto refused = site.cli({"export", "--csv", out});
    INFO(refused.output);
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("already exists") != std::string::npos);
    CHECK(refused.output.find("--force") != std::string::npos);
    CHECK(testsupport::read_file(out) == "an earlier export, to keep\n");
    CHECK(names_in(out_dir) == std::vector<std::string>{"map.csv"});

    // A symbolic link at the path counts as existing too (never followed, never replaced silently).
    const std::string link = out_dir + "/link.csv";
    REQUIRE(symlink((site.dir / "elsewhere.csv").c_str(), link.c_str()) == 0);
    CHECK(site.cli({"export", "--csv", link}).exit_code == 1);
    CHECK_FALSE(std::filesystem::exists(site.dir / "elsewhere.csv"));
    std::filesystem::remove(link);

    const auto forced = site.cli({"export", "--csv", out, "--force"});
    INFO(forced.output);
    REQUIRE(forced.exit_code == 0);
    const std::string text = testsupport::read_file(out);
    CHECK(text.rfind("issuer,patient_id,pseudonym,date_offset_days\n", 0) == 0);
    CHECK(text.find("HOSP,PHI-ID-4711," + r["pseudonym"].get<std::string>()) != std::string::npos);
    struct stat st {};
    REQUIRE(stat(out.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(names_in(out_dir) == std::vector<std::string>{"map.csv"});

    // A new path needs no --force; the audit log records both exports, the forced one as replaced.
    CHECK(site.cli({"export", "--csv", out_dir + "/new.csv"}).exit_code == 0);
    const json audit = parse(site.cli({"audit", "list", "--action", "export", "--json"}));
    REQUIRE(audit["count"] == 2);
    CHECK(audit["records"][0]["detail"]["replaced"] == true);
    CHECK(audit["records"][1]["detail"]["replaced"] == false);
}

TEST_CASE("audit list shows the records matching every filter, oldest first, as text or JSON", "[cli][audit]") {
    Site site;
    site.start();
    const json r = site.resolve("PHI-ID-0042", {"1.2.826.0.1.3680043.2.1125.42"});
    REQUIRE(r["ok"] == true);
    const std::string pseudonym = r["pseudonym"];
    REQUIRE(site.cli({"lookup", "--patient-id", "PHI-ID-0042", "--issuer", "HOSP"}).exit_code == 0);
    REQUIRE(site.cli({"reidentify", "--pseudonym", pseudonym, "--reason", "IRB-2026-9 ticket 17"}).exit_code == 0);
    REQUIRE(site.cli({"export", "--csv", site.dir / "map.csv"}).exit_code == 0);

    const json all = parse(site.cli({"audit", "list", "--json"}));
    std::vector<std::string> operations;
    for (const json& rec : all["records"]) operations.push_back(rec["operation"]);
    CHECK(operations == std::vector<std::string>{"create", "issue", "lookup", "reidentify", "export"});
    CHECK(all["count"] == 5);
    for (std::size_t i = 0; i < all["records"].size(); ++i) CHECK(all["records"][i]["seq"] == i + 1);
    // The audit log never holds an original identifier: not the Patient ID, not the original UID.
    const std::string dumped = all.dump();
    CHECK(dumped.find("PHI-ID-0042") == std::string::npos);
    CHECK(dumped.find("1.2.826.0.1.3680043.2.1125.42") == std::string::npos);
    CHECK(dumped.find(pseudonym) != std::string::npos);  // issued pseudonyms are listed

    const json reid = parse(site.cli({"audit", "list", "--action", "reidentify", "--json"}));
    REQUIRE(reid["count"] == 1);
    CHECK(reid["records"][0]["reason"] == "IRB-2026-9 ticket 17");
    CHECK(reid["records"][0]["operator"] == all["records"][0]["operator"]);

    const json last_two = parse(site.cli({"audit", "list", "--limit", "2", "--json"}));
    REQUIRE(last_two["count"] == 2);
    CHECK(last_two["records"][0]["operation"] == "reidentify");
    CHECK(last_two["records"][1]["operation"] == "export");

    CHECK(parse(site.cli({"audit", "list", "--since", "1h", "--json"}))["count"] == 5);
    CHECK(parse(site.cli({"audit", "list", "--since", "2999-01-01", "--json"}))["count"] == 0);
    CHECK(parse(site.cli({"audit", "list", "--until", "2000-01-01T00:00:00Z", "--json"}))["count"] == 0);
    const std::string me = all["records"][0]["operator"];
    CHECK(parse(site.cli({"audit", "list", "--operator", me, "--action", "lookup", "--json"}))["count"] == 1);
    CHECK(parse(site.cli({"audit", "list", "--operator", "someone-else", "--json"}))["count"] == 0);

    const auto text = site.cli({"audit", "list", "--action", "reidentify"});
    INFO(text.output);
    REQUIRE(text.exit_code == 0);
    CHECK(text.output.rfind("seq", 0) == 0);
    CHECK(text.output.find("IRB-2026-9 ticket 17") != std::string::npos);
    CHECK(text.output.find("\n1 record\n") != std::string::npos);

    // Bad filters are usage errors that name the option; nothing is listed.
    for (const auto& bad : std::vector<std::vector<std::string>>{{"--since", "2026-02-30"},
                                                                 {"--until", "yesterday"},
                                                                 {"--action", "delete"},
                                                                 {"--limit", "0"}}) {
        auto args = std::vector<std::string>{"audit", "list"};
        args.insert(args.end(), bad.begin(), bad.end());
        const auto r2 = site.cli(args);
        INFO(bad[0] << " " << bad[1] << ": " << r2.output);
        CHECK(r2.exit_code == 2);
        CHECK(r2.output.find(bad[0]) != std::string::npos);
        CHECK(r2.output.find("seq") == std::string::npos);
    }
    CHECK(site.cli({"audit", "verify", "--action", "lookup"}).exit_code == 2);
    // Listing is read-only: it adds no record, and the chain stays intact.
    CHECK(parse(site.cli({"audit", "verify", "--json"}))["records"] == 5);
}

TEST_CASE("health answers while a broker serves, waits for one that starts, and fails when none runs", "[cli]") {
    Site site;
    const auto none = site.cli({"health"});
    CHECK(none.exit_code == 1);
    CHECK(none.output.find(site.socket) != std::string::npos);

    // Started without waiting: health --wait returns once the broker answers.
    site.broker = testsupport::Child({kKeystore, "serve", "--config", site.config_path}, site.dir / "broker.log");
    const auto waited = site.cli({"health", "--wait", "30", "--json"});
    INFO(waited.output);
    REQUIRE(waited.exit_code == 0);
    CHECK(parse(waited)["pid"] == site.broker.pid());

    REQUIRE(site.broker.stop() == 0);
    CHECK(site.cli({"health"}).exit_code == 1);
}
