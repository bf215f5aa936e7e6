// Forwarding refusals go to quarantine/<reason>/ and `quarantine replay` puts them back on the path
// they failed on; routing conditions pick the destinations. The peer is the project's own StoreScp
// with a handler that answers what the test says.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include "dimse/DimseStatus.h"
#include "dimse/StoreScp.h"
#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
class AnswerHandler : public dimse::CStoreHandler {
public:
    std::atomic<std::uint16_t> status{dimse::DimseStatus::SopClassNotSupported};
    std::atomic<int> stored{0};
    std::uint16_t handle_store(dimse::CStoreRequest&) override {
        const auto s = status.load();
        if (s == dimse::DimseStatus::Success) ++stored;
        return s;
    }
};
}  // namespace

TEST_CASE("a refusal by the peer is quarantined with its reason and replay delivers it and routing follows destinations when") {
    testsupport::TempDir src, recv;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 1}};
    const auto written = testdata::write_study(src.path(), spec);

    AnswerHandler handler;
    dimse::ScpSettings settings;
    settings.ae_title = "PEER";
    settings.port = 0;
    settings.receive_dir = recv.path();
    dimse::StoreScp peer(settings, handler);
    REQUIRE_FALSE(peer.start());

    Gateway gw(json{{"destinations",
                     json::array({{{"name", "peer"}, {"ae_title", "PEER"}, {"host", "127.0.0.1"}, {"port", peer.port()}, {"associations", 1}},
                                  {{"name", "mr-only"}, {"directory", "mr"}, {"when", {{"modality", {"MR"}}}}}})}});
    REQUIRE(gw.start());
    std::vector<std::string> files;
    for (auto& w : written) files.push_back(w.path);
    REQUIRE(store(gw.port, files).acked.size() == 3);

    REQUIRE(wait_for_files(gw.state() + "/mr", 1, 20s));
    REQUIRE(wait_for_files(gw.state() + "/spool/quarantine/sop-class-not-supported", 6, 20s));  // 3 x (file + reason)
    std::this_thread::sleep_for(300ms);
    CHECK(files_under(gw.state() + "/mr").size() == 1);  // only the MR instance matched
    auto list = gw.quarantine({"list"});
    INFO(list.output);
    CHECK(list.output.find("3 quarantined") != std::string::npos);
    CHECK(list.output.find("forward") != std::string::npos);

    handler.status = dimse::DimseStatus::Success;
    auto replay = gw.quarantine({"replay", "--all"});
    CHECK(replay.exit_code == 0);
    CHECK(replay.output.find("replayed 3") != std::string::npos);
    const auto end = std::chrono::steady_clock::now() + 20s;  // the running gateway sweeps outgoing/
    while (handler.stored < 3 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100ms);
    CHECK(handler.stored == 3);
    CHECK(gw.quarantine({"list"}).output.find("0 quarantined") != std::string::npos);
}

TEST_CASE("quarantine list filters by reason and destination and prints JSON") {
    testsupport::TempDir src, recv;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    AnswerHandler handler;  // refuses: sop-class-not-supported, quarantined for destination "peer"
    dimse::ScpSettings settings;
    settings.ae_title = "PEER";
    settings.port = 0;
    settings.receive_dir = recv.path();
    dimse::StoreScp peer(settings, handler);
    REQUIRE_FALSE(peer.start());
    Gateway gw(json{{"destinations", json::array({{{"name", "peer"}, {"ae_title", "PEER"}, {"host", "127.0.0.1"},
                                                   {"port", peer.port()}, {"associations", 1}}})}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, {written[0].path, written[1].path}).acked.size() == 2);
    // One more refused at reception: no SOP Instance UID (malformed, no destination).
    testdata::RawStore how;
    how.port = gw.port;
    how.request_sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    how.request_sop_instance_uid = written[0].sop_instance_uid;
    REQUIRE(testdata::raw_store_dataset_of(how, written[0].path, true) == 0xC000);
    REQUIRE(wait_for_files(gw.state() + "/spool/quarantine/sop-class-not-supported", 4, 20s));
    REQUIRE(wait_for_files(gw.state() + "/spool/quarantine/malformed", 2, 20s));

    auto all = gw.quarantine({"list", "--json"});
    INFO(all.output);
    REQUIRE(all.exit_code == 0);
    const auto entries = json::parse(all.output);
    REQUIRE(entries.size() == 3);
    for (const auto& e : entries)
        for (const char* k : {"id", "reason", "detail", "stage", "destination", "calling_ae", "quarantined_at", "attempts"})
            CHECK(e.contains(k));

    const auto by_reason = json::parse(gw.quarantine({"list", "--json", "--reason", "malformed"}).output);
    REQUIRE(by_reason.size() == 1);
    CHECK(by_reason[0]["stage"] == "receive");
    const auto by_destination = json::parse(gw.quarantine({"list", "--json", "--destination", "peer"}).output);
    REQUIRE(by_destination.size() == 2);
    for (const auto& e : by_destination) CHECK(e["reason"] == "sop-class-not-supported");
    CHECK(json::parse(gw.quarantine({"list", "--json", "--destination", "nowhere"}).output).empty());
    // The table takes the same filters.
    const auto table = gw.quarantine({"list", "--reason", "malformed"});
    CHECK(table.output.find("1 quarantined") != std::string::npos);
    // The list options go with list only.
    const auto misuse = gw.quarantine({"show", entries[0]["id"].get<std::string>(), "--json"});
    CHECK(misuse.exit_code == 2);
    CHECK(misuse.output.find("go with list") != std::string::npos);
    for (const char* phi : {"DOE^JANE", "PAT-4711"}) CHECK(all.output.find(phi) == std::string::npos);
}
