// Privacy of what the gateway shows about itself: the PHI corpus goes through a real gateway and
// every metric, the status page, /status.json, /readyz, every JSON log line and the CLI's output
// are searched for the corpus's planted values (its answer key).
#include "http/StatusSnapshot.h"

#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <sstream>

#include "tests/dimse/TestInstances.h"
#include "tests/http/MonitoringFixture.h"

using namespace std::chrono_literals;
using namespace montest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// `needle` in `text`, case-insensitive; an all-digit needle (a date) only where no digit touches
// it, so a byte count that happens to contain "19580314" is not a date.
bool contains(const std::string& text_upper, const std::string& needle_upper) {
    const bool digits = std::all_of(needle_upper.begin(), needle_upper.end(), ::isdigit);
    for (auto at = text_upper.find(needle_upper); at != std::string::npos; at = text_upper.find(needle_upper, at + 1)) {
        if (!digits) return true;
        const bool before = at > 0 && std::isdigit(static_cast<unsigned char>(text_upper[at - 1]));
        const auto end = at + needle_upper.size();
        const bool after = end < text_upper.size() && std::isdigit(static_cast<unsigned char>(text_upper[end]));
        if (!before && !after) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("no metric, status page, JSON log line or CLI output contains a planted PHI value") {
    testsupport::TempDir corpus;
    const auto gen = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-generate", "phi", "--out", corpus / "in",
                                       "--key", corpus / "key.json"});
    REQUIRE(gen.exit_code == 0);
    const json key = json::parse(testsupport::read_file(corpus / "key.json"));
    std::set<std::string> needles;
    for (const auto& inst : key["instances"])
        for (const auto& v : inst["identifying"]) needles.insert(upper(v.get<std::string>()));
    REQUIRE(needles.size() > 50);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(corpus / "in")) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());

    MonitoredGateway gw(json{{"log", {{"format", "json"}}},
                             {"destinations", json::array({{{"name", "outbox"}, {"directory", "outbox"}},
                                                           down_destination("offline")})}});
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    REQUIRE(gwtest::store(gw.port, files).acked.size() == files.size());
    // A corpus instance without its SOP Instance UID is refused (C000) and quarantined: its reason
    // shows on the page and in `quarantine list`, its values nowhere.
    const auto& first = key["instances"][0];
    testdata::RawStore how;
    how.port = gw.port;
    how.request_sop_class_uid = first["sop_class_uid"].get<std::string>();
    how.request_sop_instance_uid = first["sop_instance_uid"].get<std::string>();
    CHECK(testdata::raw_store_dataset_of(how, corpus / ("in/" + first["file"].get<std::string>()), true) == 0xC000);
    REQUIRE(gwtest::wait_for_files(gw.state() + "/outbox", files.size(), 60s));
    REQUIRE(eventually([&] { return gw.status()["quarantine"].contains("malformed"); }, 20s));

    std::map<std::string, std::string> shown;  // where -> what
    for (const char* target : {"/metrics", "/", "/status.json", "/readyz", "/healthz"}) {
        const auto r = gw.get(target);
        CHECK(r.status == 200);
        shown[std::string("GET ") + target] = r.body;
    }
    const std::string config = gw.dir / "config.json";
    for (const auto& args : std::vector<std::vector<std::string>>{{"status"},
                                                                  {"status", "--json"},
                                                                  {"quarantine", "list"},
                                                                  {"quarantine", "list", "--json"},
                                                                  {"print-config"}}) {
        std::vector<std::string> argv = {gwtest::kGateway};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--config", config});
        const auto r = testsupport::run(argv, 30s);
        std::string name = "deid-gateway";
        for (const auto& a : args) name += " " + a;
        shown[name] = r.output;
    }
    // scrub runs its own broker: another state folder than the running gateway's.
    testsupport::write_file(corpus / "scrub.json", json{{"state_dir", corpus / "scrub-state"}, {"log", {{"format", "json"}}}}.dump());
    const auto scrub = testsupport::run({gwtest::kGateway, "scrub", "--config", corpus / "scrub.json", "--out",
                                         corpus / "scrubbed", corpus / "in"},
                                        120s);
    INFO(scrub.output);
    CHECK(scrub.exit_code == 0);
    shown["deid-gateway scrub"] = scrub.output;

    // The log: every line of the gateway is one JSON object with the fields of docs/monitoring.md.
    const std::string log = gw.log();
    std::istringstream lines(log);
    std::string line;
    int json_lines = 0;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        const auto j = json::parse(line, nullptr, false);
        INFO(line);
        REQUIRE(j.is_object());
        for (const char* k : {"time", "level", "component", "event", "ids"}) CHECK(j.contains(k));
        ++json_lines;
    }
    CHECK(json_lines > static_cast<int>(files.size()));
    shown["gateway log"] = log;

    for (const auto& [where, text] : shown) {
        const std::string t = upper(text);
        for (const auto& needle : needles)
            if (contains(t, needle)) FAIL_CHECK("planted value '" << needle << "' in " << where);
    }
    // The search can fail: the same search finds the planted values in an input.
    CHECK(contains(upper(testsupport::read_file(corpus / "in/" + first["file"].get<std::string>())),
                   upper(first["identifying"][1].get<std::string>())));
}
