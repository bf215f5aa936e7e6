#include "gateway/Commands.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json sink_destination(const StoreScp& sink, int associations = 4) {
    return {{"name", "pacs"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", sink.port},
            {"associations", associations}};
}

std::vector<std::string> paths(const std::vector<testdata::Written>& w) {
    std::vector<std::string> out;
    for (auto& x : w) out.push_back(x.path);
    return out;
}

}  // namespace

TEST_CASE("storescu to gateway to storescp and a folder delivers a multi-series study de-identified and complete") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 3}, testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2},
                   testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    StoreScp sink;
    Gateway gw(json{{"destinations", json::array({sink_destination(sink), {{"name", "outbox"}, {"directory", "outbox"}}})}});
    REQUIRE(gw.start());

    auto echo = testsupport::run(with_shim({"echoscu", "-aec", "DEIDGW", "127.0.0.1", std::to_string(gw.port)}), 20s);
    CHECK(echo.exit_code == 0);

    const auto sent = store(gw.port, paths(written));
    INFO(sent.run.output);
    REQUIRE(sent.acked.size() == written.size());
    if (!wait_for_files(sink.folder(), written.size(), 30s)) FAIL(gw.log());
    REQUIRE(wait_for_files(gw.state() + "/outbox", written.size(), 30s));

    std::set<std::string> studies, series, sops, patients;
    for (const auto& f : files_under(sink.folder())) {
        for (const std::string& phi : std::vector<std::string>{"DOE^JANE", "PAT-4711", "ACC-0815", "HOUSE^GREGORY", spec.study_uid})
            CHECK_FALSE(contains_bytes(f, phi));
        const auto a = read_attributes(f);
        studies.insert(a.study_uid);
        series.insert(a.series_uid);
        sops.insert(a.sop_uid);
        patients.insert(a.patient_id);
    }
    CHECK(studies.size() == 1);
    CHECK(series.size() == 3);
    CHECK(sops.size() == written.size());
    CHECK(patients.size() == 1);
    CHECK_FALSE(studies.begin()->empty());
    for (const auto& w : written) CHECK(sops.count(w.sop_instance_uid) == 0);
    // The folder destination holds the same instances as <Study>/<Series>/<SOP>.dcm.
    for (const auto& f : files_under(gw.state() + "/outbox")) {
        const auto a = read_attributes(f);
        CHECK(f == gw.state() + "/outbox/" + a.study_uid + "/" + a.series_uid + "/" + a.sop_uid + ".dcm");
        CHECK(sops.count(a.sop_uid) == 1);
    }
    // Logs carry ids and new UIDs, never an identifying value.
    const std::string log = gw.log();
    CHECK(log.find("spooled ") != std::string::npos);
    CHECK(log.find(*studies.begin()) != std::string::npos);
    for (const std::string& phi : std::vector<std::string>{"DOE^JANE", "PAT-4711", spec.study_uid}) CHECK(log.find(phi) == std::string::npos);

    CHECK(gw.child.stop(10s) == 0);  // SIGTERM: a clean stop
}

TEST_CASE("unknown calling AE and malformed or mismatched data sets are refused and nothing is forwarded") {
    testsupport::TempDir src;
    const auto written = testdata::write_study(src.path(), testdata::StudySpec{});
    Gateway gw(json{{"listen", {{"allowed_calling_ae", {"MODALITY", "RAWSCU"}}}}});
    REQUIRE(gw.start());

    auto refused = store(gw.port, {written[0].path}, "STRANGER", 20s);
    CHECK(refused.acked.empty());
    CHECK(refused.run.output.find("Calling AE Title Not Recognized") != std::string::npos);
    CHECK(gw.log().find("calling AE 'STRANGER'") != std::string::npos);

    testdata::RawStore how;
    how.port = gw.port;
    how.request_sop_class_uid = "1.2.840.10008.5.1.4.1.1.4";  // MR in the command, CT in the data set
    how.request_sop_instance_uid = written[0].sop_instance_uid;
    CHECK(testdata::raw_store_dataset_of(how, written[0].path, false) == 0xA900);
    how.request_sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    CHECK(testdata::raw_store_dataset_of(how, written[1].path, true) == 0xC000);  // no SOP Instance UID

    std::this_thread::sleep_for(1s);
    CHECK(files_under(gw.state() + "/outbox").empty());
    CHECK(files_under(gw.state() + "/spool/incoming").empty());
    const auto list = gw.quarantine({"list"});
    INFO(list.output);
    CHECK(list.exit_code == 0);
    CHECK(list.output.find("sop-class-mismatch") != std::string::npos);
    CHECK(list.output.find("malformed") != std::string::npos);
    CHECK(list.output.find("2 quarantined") != std::string::npos);
    // Reasons carry no identifying value.
    for (const auto& f : files_under(gw.state() + "/spool/quarantine"))
        if (fs::path(f).filename() == "reason.json") CHECK_FALSE(contains_bytes(f, "DOE^JANE"));

    // show / purge by id.
    const std::string id = fs::path(files_under(gw.state() + "/spool/quarantine/malformed")[0]).parent_path().filename();
    auto show = gw.quarantine({"show", id});
    CHECK(show.exit_code == 0);
    CHECK(show.output.find("stage:       receive") != std::string::npos);
    CHECK(gw.quarantine({"purge", id}).exit_code == 0);
    CHECK(gw.quarantine({"show", id}).exit_code == 1);
    CHECK(gw.quarantine({"list"}).output.find("1 quarantined") != std::string::npos);
}

TEST_CASE("destination down while 200 instances arrive then up delivers all 200 and the sender saw only Success") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 200}};
    const auto written = testdata::write_study(src.path(), spec);
    StoreScp sink(false);
    Gateway gw(json{{"destinations", json::array({sink_destination(sink)})}, {"workers", 2}});
    REQUIRE(gw.start());
    const auto sent = store(gw.port, paths(written));
    CHECK(sent.failures == 0);
    CHECK(sent.acked.size() == 200);
    sink.start();
    REQUIRE(wait_for_files(sink.folder(), 200, 60s));
    std::set<int> numbers;
    for (const auto& f : files_under(sink.folder())) numbers.insert(read_attributes(f).instance_number);
    CHECK(numbers.size() == 200);
    CHECK(gw.log().find("destination paused") != std::string::npos);
}

TEST_CASE("gateway SIGKILLed in the middle of a 500-instance stream delivers every acknowledged instance after restart") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 500}};
    const auto written = testdata::write_study(src.path(), spec);
    std::map<std::string, int> number_of;
    for (size_t i = 0; i < written.size(); ++i) number_of[written[i].path] = static_cast<int>(i + 1);
    StoreScp sink;
    Gateway gw(json{{"destinations", json::array({sink_destination(sink)})}});
    REQUIRE(gw.start());

    std::vector<std::string> argv = {"storescu", "-v", "-nh", "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1",
                                     std::to_string(gw.port)};
    for (auto& w : written) argv.push_back(w.path);
    testsupport::Child sender(with_shim(argv), src / "storescu.log");
    // Kill the gateway once some instances are through.
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < end &&
           parse_storescu({0, testsupport::read_file(src / "storescu.log")}).acked.size() < 150)
        std::this_thread::sleep_for(20ms);
    gw.child.signal(SIGKILL);
    gw.child.wait(10s);
    sender.wait(30s);
    const auto acked = parse_storescu({0, testsupport::read_file(src / "storescu.log")}).acked;
    INFO("acknowledged before the kill: " << acked.size());
    REQUIRE(acked.size() >= 150);
    CHECK(acked.size() < 500);

    REQUIRE(gw.start());  // same state folder: picks up incoming/ and outgoing/, and the journal's records
    const auto restored = gw.log().find("reception journal: ");
    INFO("after the restart: " << (restored == std::string::npos ? std::string("no journal record written back")
                                                                  : gw.log().substr(restored, 60)));
    std::set<int> expected;
    for (const auto& a : acked) expected.insert(number_of[a]);
    std::set<int> delivered;
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < until) {
        delivered.clear();
        for (const auto& f : files_under(sink.folder())) delivered.insert(read_attributes(f).instance_number);
        if (std::includes(delivered.begin(), delivered.end(), expected.begin(), expected.end())) break;
        std::this_thread::sleep_for(200ms);
    }
    std::vector<int> missing;
    std::set_difference(expected.begin(), expected.end(), delivered.begin(), delivered.end(), std::back_inserter(missing));
    INFO("missing " << missing.size());
    INFO("gateway log (end): " << gw.log().substr(gw.log().size() > 4000 ? gw.log().size() - 4000 : 0));
    INFO("sink log: " << testsupport::read_file(sink.dir / "storescp.log"));
    CHECK(missing.empty());
}

TEST_CASE("spool limit reached gives A700 and the gateway keeps running and recovers") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.rows = spec.columns = 64;  // about 9 KB each
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 30}};
    const auto written = testdata::write_study(src.path(), spec);
    StoreScp sink(false);
    Gateway gw(json{{"destinations", json::array({sink_destination(sink)})}, {"spool", {{"max_bytes", 100000}}}});
    REQUIRE(gw.start());
    const auto first = store(gw.port, paths(written));
    CHECK(first.failures > 0);
    CHECK(first.acked.size() < 30);
    CHECK(first.run.output.find("Refused: OutOfResources") != std::string::npos);
    CHECK(gw.log().find("answered A700") != std::string::npos);
    CHECK(gw.child.running());

    sink.start();  // the queue drains, space frees
    REQUIRE(wait_for_files(sink.folder(), first.acked.size(), 30s));
    std::this_thread::sleep_for(500ms);
    const auto again = store(gw.port, {written.back().path});
    CHECK(again.failures == 0);
    CHECK(again.acked.size() == 1);
}

TEST_CASE("broker down keeps instances in incoming and nothing is forwarded until it is back") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 6}};
    const auto written = testdata::write_study(src.path(), spec);
    Gateway gw(json{{"keystore", {{"socket", "SOCKET"}}}});
    gw.config["keystore"]["socket"] = gw.dir / "broker.sock";
    const std::string config_path = gw.write_config();
    const std::string keystore = std::string(DEID_BIN_DIR) + "/deid-keystore";
    auto broker = std::make_unique<testsupport::Child>(std::vector<std::string>{keystore, "serve", "--config", config_path},
                                                       gw.dir / "broker1.log");
    for (int i = 0; i < 100 && !fs::exists(gw.dir / "broker.sock"); ++i) std::this_thread::sleep_for(100ms);
    REQUIRE(gw.start());
    const auto outbox = gw.dir / "outbox";
    REQUIRE(store(gw.port, {written[0].path, written[1].path, written[2].path}).acked.size() == 3);
    if (!wait_for_files(outbox, 3, 20s)) FAIL(testsupport::read_file(gw.dir / "broker1.log") + gw.log());

    CHECK(broker->stop() == 0);
    const auto sent = store(gw.port, {written[3].path, written[4].path, written[5].path});
    CHECK(sent.acked.size() == 3);
    std::this_thread::sleep_for(1500ms);
    CHECK(files_under(outbox).size() == 3);  // nothing forwarded without a pseudonym
    CHECK(files_under(gw.state() + "/spool/incoming").size() == 3);
    CHECK(gw.log().find("stays in incoming") != std::string::npos);

    broker = std::make_unique<testsupport::Child>(std::vector<std::string>{keystore, "serve", "--config", config_path},
                                                  gw.dir / "broker2.log");
    CHECK(wait_for_files(outbox, 6, 30s));
    std::set<std::string> patients;
    for (const auto& f : files_under(outbox)) patients.insert(read_attributes(f).patient_id);
    CHECK(patients.size() == 1);  // the same pseudonym before and after the outage
}
