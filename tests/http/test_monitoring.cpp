// The HTTP endpoint of a real `deid-gateway serve`: readiness following the broker, Prometheus
// scraping it, the status page in headless Chromium, `deid-gateway status`.
#include "http/HttpServer.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/dimse/TestInstances.h"
#include "tests/http/MonitoringFixture.h"

using namespace std::chrono_literals;
using namespace montest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> study(const std::string& dir, int instances) {
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", instances}};
    std::vector<std::string> out;
    for (const auto& w : testdata::write_study(dir, spec)) out.push_back(w.path);
    return out;
}

json sink_destination(const gwtest::StoreScp& sink) {
    return {{"name", "pacs"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", sink.port}, {"associations", 2}};
}

// The value of one sample in a Prometheus exposition, or -1.
double sample(const std::string& exposition, const std::string& series) {
    const auto at = exposition.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(exposition.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("/readyz turns not ready within seconds when the broker is killed and ready again when it is back") {
    MonitoredGateway gw;
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    CHECK(gw.get("/healthz").status == 200);
    const pid_t broker = child_named(gw.child.pid(), "deid-keystore");
    REQUIRE(broker > 0);
    REQUIRE(::kill(broker, SIGKILL) == 0);

    // The supervisor restarts it after 0.5 s: polled often enough to see the gap.
    http::GetResult r;
    REQUIRE(eventually([&] { return (r = gw.get("/readyz")).status == 503; }, 10s, 50ms));
    const auto body = json::parse(r.body);
    CHECK(body["ready"] == false);
    CHECK(body["checks"]["broker"]["ok"] == false);
    CHECK(body["checks"]["spool"]["ok"] == true);
    CHECK(body["checks"]["listener"]["ok"] == true);
    CHECK(gw.get("/healthz").status == 200);  // alive all along

    // The gateway starts its broker again; readiness follows.
    REQUIRE(gw.wait_ready(30s));
    const pid_t again = child_named(gw.child.pid(), "deid-keystore");
    CHECK(again > 0);
    CHECK(again != broker);
    CHECK(eventually([&] { return sample("\n" + gw.get("/metrics").body, "deid_broker_up") == 1; }, 10s));
    CHECK(gw.log().find("the keystore broker answers again") != std::string::npos);
}

TEST_CASE("/readyz names the spool when it is short of room") {
    // More free disk demanded than any disk has: the spool has no room, C-STORE would get A700.
    MonitoredGateway gw(json{{"spool", {{"min_free_bytes", 1ull << 60}}}});
    REQUIRE(gw.start());
    http::GetResult r;
    REQUIRE(eventually([&] { return (r = gw.get("/readyz")).status == 503; }, 20s));
    const auto body = json::parse(r.body);
    CHECK(body["checks"]["spool"]["ok"] == false);
    CHECK(body["checks"]["broker"]["ok"] == true);
    CHECK_FALSE(body["checks"]["spool"]["detail"].get<std::string>().empty());
}

TEST_CASE("Prometheus scraping the gateway while a study is sent reports the delivered count and queue depth") {
    gwtest::StoreScp sink;
    MonitoredGateway gw(json{{"destinations", json::array({sink_destination(sink), down_destination("offline")})}});
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());

    testsupport::TempDir prom;
    const int prom_port = testsupport::free_port();
    testsupport::write_file(prom / "prometheus.yml",
                            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                            "scrape_configs:\n  - job_name: deid-gateway\n    static_configs:\n"
                            "      - targets: ['127.0.0.1:" + std::to_string(gw.http_port) + "']\n");
    testsupport::Child prometheus({"prometheus", "--config.file=" + prom / "prometheus.yml",
                                   "--storage.tsdb.path=" + prom / "data",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
                                  prom / "prometheus.log");
    REQUIRE(testsupport::wait_for_port(prom_port, 30000ms));

    testsupport::TempDir src;
    const auto files = study(src.path(), 6);
    const auto sent = gwtest::store(gw.port, files);
    REQUIRE(sent.acked.size() == files.size());
    REQUIRE(gwtest::wait_for_files(sink.folder(), files.size(), 30s));

    // Prometheus's own query API, as a dashboard would ask it.
    auto query = [&](const std::string& promql) {
        const auto r = testsupport::run({"curl", "-s", "--max-time", "10", "-G",
                                         "http://127.0.0.1:" + std::to_string(prom_port) + "/api/v1/query",
                                         "--data-urlencode", "query=" + promql},
                                        20s);
        const auto j = json::parse(r.output, nullptr, false);
        if (j.is_discarded() || j.value("status", "") != "success" || j["data"]["result"].empty()) return -1.0;
        return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
    };
    const double n = static_cast<double>(files.size());
    double delivered = -1, queued = -1;
    const bool seen = eventually(
        [&] {
            delivered = query("deid_delivered_total{destination=\"pacs\",job=\"deid-gateway\"}");
            queued = query("deid_queue_depth{destination=\"offline\"}");
            return delivered == n && queued == n;
        },
        60s);
    INFO(testsupport::read_file(prom / "prometheus.log"));
    CHECK(seen);
    CHECK(delivered == n);
    CHECK(queued == n);
    CHECK(query("deid_queue_depth{destination=\"pacs\"}") == 0);
    CHECK(query("up{job=\"deid-gateway\"}") == 1);
    CHECK(query("sum(deid_cstore_requests_total{status=\"0000\"})") == n);
}

TEST_CASE("deid_associations_total counts an association the sender aborts as aborted, a released one not") {
    MonitoredGateway gw;
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    testsupport::TempDir src;
    const auto files = study(src.path(), 1);
    auto metric = [&](const std::string& series) { return sample("\n" + gw.get("/metrics").body, series); };
    CHECK(metric("deid_associations_total{outcome=\"aborted\"}") == 0);

    // Released: the gateway logs the release, and then aborted is still 0.
    REQUIRE(gwtest::store(gw.port, files).acked.size() == 1);
    REQUIRE(eventually([&] { return gw.log().find(": released after 1 C-STORE requests") != std::string::npos; }, 20s));
    const double accepted = metric("deid_associations_total{outcome=\"accepted\"}");
    CHECK(accepted >= 1);
    CHECK(metric("deid_associations_total{outcome=\"aborted\"}") == 0);

    // storescu --abort sends an A-ABORT instead of the release request once its C-STORE is answered.
    const auto r = testsupport::run({"storescu", "--abort", "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1",
                                     std::to_string(gw.port), files.front()},
                                    60s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(eventually([&] { return metric("deid_associations_total{outcome=\"aborted\"}") == 1; }, 20s));
    CHECK(metric("deid_associations_total{outcome=\"accepted\"}") == accepted + 1);
    CHECK(gw.log().find(": aborted by the peer after 1 C-STORE requests") != std::string::npos);
}

TEST_CASE("the status page in headless Chromium names a destination that is down as failing, with its queue") {
    gwtest::StoreScp sink;
    MonitoredGateway gw(json{{"destinations", json::array({sink_destination(sink), down_destination("research")})}});
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    testsupport::TempDir src;
    const auto files = study(src.path(), 4);
    REQUIRE(gwtest::store(gw.port, files).acked.size() == files.size());
    REQUIRE(eventually(
        [&] {
            const auto s = gw.status();
            if (!s.is_object()) return false;
            for (const auto& d : s["destinations"])
                if (d["name"] == "research") return d["state"] == "failing" && d["queue_depth"] == files.size();
            return false;
        },
        30s));

    testsupport::TempDir profile;
    const std::string url = "http://127.0.0.1:" + std::to_string(gw.http_port) + "/";
    const std::vector<std::string> flags = {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                            "--no-first-run", "--disable-background-networking",
                                            "--disable-component-update", "--disable-sync",
                                            "--user-data-dir=" + profile / "user-data"};
    auto dom_args = flags;
    dom_args.insert(dom_args.end(), {"--dump-dom", url});
    const auto dom = testsupport::run(dom_args, 90s);
    INFO(dom.output);
    REQUIRE(dom.exit_code == 0);
    // The row of the destination that is down: its name, "failing", its queue.
    const std::regex block(R"re(<div class="dest" data-destination="research"><h3>research <small>\(dicom\)</small> <span class="state failing">failing</span></h3>\s*<p>queue <b class="queue">4</b>)re");
    CHECK(std::regex_search(dom.output, block));
    const std::regex pacs(R"re(data-destination="pacs"><h3>pacs <small>\(dicom\)</small> <span class="state ok">ok</span>)re");
    CHECK(std::regex_search(dom.output, pacs));
    CHECK(dom.output.find("connect-failed") != std::string::npos);

    // A phone-sized screenshot: docs/status-page.png comes from this (DEID_SCREENSHOT=path keeps it).
    const char* keep = std::getenv("DEID_SCREENSHOT");
    const std::string png = keep ? std::string(keep) : profile / "status.png";
    auto shot_args = flags;
    shot_args.insert(shot_args.end(), {"--hide-scrollbars", "--window-size=412,1100", "--screenshot=" + png, url});
    const auto shot = testsupport::run(shot_args, 90s);
    INFO(shot.output);
    CHECK(shot.exit_code == 0);
    const std::string bytes = testsupport::read_file(png);
    CHECK(bytes.size() > 1000);
    CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);

    // `deid-gateway status` says the same from the command line.
    const auto text = testsupport::run({gwtest::kGateway, "status", "--config", gw.dir / "config.json"}, 20s);
    INFO(text.output);
    CHECK(text.exit_code == 0);
    CHECK(text.output.find("research (dicom): failing, queue 4") != std::string::npos);
    CHECK(text.output.find("pacs (dicom): ok, queue 0") != std::string::npos);
    CHECK(text.output.find("broker: answering") != std::string::npos);
    const auto as_json = testsupport::run({gwtest::kGateway, "status", "--json", "--config", gw.dir / "config.json"}, 20s);
    const auto j = json::parse(as_json.output);
    CHECK(as_json.exit_code == 0);
    CHECK(j["destinations"][1]["name"] == "research");
    CHECK(j["destinations"][1]["state"] == "failing");
    CHECK(j["destinations"][1]["queue_depth"] == 4);
    CHECK(j["destinations"][0]["delivered"] == 4);
}

TEST_CASE("deid-gateway status says clearly when no gateway answers and when the endpoint is off") {
    MonitoredGateway gw;  // not started
    gw.write_config();
    const auto r = testsupport::run({gwtest::kGateway, "status", "--config", gw.dir / "config.json"}, 20s);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("no answer from http://127.0.0.1:" + std::to_string(gw.http_port) + "/status.json") !=
          std::string::npos);
    gwtest::Gateway off;  // http.port 0
    off.write_config();
    const auto r2 = testsupport::run({gwtest::kGateway, "status", "--config", off.dir / "config.json"}, 20s);
    CHECK(r2.exit_code == 2);
    CHECK(r2.output.find("http.port is 0") != std::string::npos);
}

TEST_CASE("log.format json: gateway and broker write one JSON object per line, and SIGHUP reopens the log file") {
    MonitoredGateway gw(json{{"log", {{"format", "json"}}}});
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    testsupport::TempDir src;
    REQUIRE(gwtest::store(gw.port, study(src.path(), 2)).acked.size() == 2);
    REQUIRE(gwtest::wait_for_files(gw.dir / "outbox", 2, 30s));

    // Both processes, one format: every line parses, with time, level, component, event and ids.
    auto lines_of = [](const std::string& text) {
        std::vector<json> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
        return out;
    };
    std::set<std::string> components;
    bool spool_id_seen = false;
    for (const auto& j : lines_of(gw.log())) {
        REQUIRE(j.is_object());
        for (const char* k : {"time", "level", "component", "event", "ids"}) CHECK(j.contains(k));
        components.insert(j["component"].get<std::string>());
        if (j["ids"].contains("spool")) spool_id_seen = true;
    }
    CHECK(components.count("keystore") == 1);
    CHECK(components.count("serve") == 1);
    CHECK(components.count("receive") == 1);
    CHECK(spool_id_seen);

    // logrotate: the file is moved away, SIGHUP, the next lines go to a new file under the old name.
    fs::rename(gw.dir / "gateway.log", gw.dir / "gateway.log.1");
    gw.child.signal(SIGHUP);
    REQUIRE(eventually(
        [&] {
            const auto text = testsupport::read_file(gw.dir / "gateway.log");
            return text.find("SIGHUP: log file reopened") != std::string::npos &&
                   text.find("\"component\":\"keystore\"") != std::string::npos;
        },
        20s));
    CHECK(gw.child.running());
    CHECK(gw.get("/readyz").status == 200);
    for (const auto& j : lines_of(testsupport::read_file(gw.dir / "gateway.log"))) CHECK(j.is_object());
    CHECK(testsupport::read_file(gw.dir / "gateway.log.1").find("log file reopened") == std::string::npos);
}

TEST_CASE("small receptions go through held by their journal record alone, a destination that is down gets their originals written as files") {
    // One storescp process (no --fork): killing it ends the association the forwarder holds.
    testsupport::TempDir sink_dir;
    fs::create_directories(sink_dir / "in");
    const int sink_port = testsupport::free_port();
    testsupport::Child sink({"storescp", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)},
                            sink_dir / "storescp.log");
    REQUIRE(testsupport::wait_for_port(sink_port));
    MonitoredGateway gw(json{{"destinations", json::array({json{{"name", "pacs"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"},
                                                                 {"port", sink_port}, {"associations", 1}}})}});
    REQUIRE(gw.start());
    REQUIRE(gw.wait_ready());
    auto metric = [&](const std::string& series) { return sample("\n" + gw.get("/metrics").body, series); };
    testsupport::TempDir src;
    const auto files = study(src.path(), 13);
    // Until the destination has taken an instance, outputs wait on disk, and so do their originals.
    REQUIRE(gwtest::store(gw.port, {files[0]}).acked.size() == 1);
    REQUIRE(gwtest::wait_for_files(sink_dir / "in", 1, 30s));
    INFO(gw.log());
    REQUIRE(eventually([&] { return gw.log().find(": delivered ") != std::string::npos; }, 20s));
    const double warm_up = metric("deid_journal_incoming_files_written_total");
    CHECK(warm_up <= 1);
    REQUIRE(gwtest::store(gw.port, std::vector<std::string>(files.begin() + 1, files.begin() + 7)).acked.size() == 6);
    REQUIRE(gwtest::wait_for_files(sink_dir / "in", 7, 30s));
    CHECK(eventually([&] { return metric("deid_receptions_durable_total{by=\"journal\"}") == 7; }, 20s));
    CHECK(metric("deid_receptions_durable_total{by=\"file\"}") == 0);
    CHECK(metric("deid_journal_incoming_files_written_total") == warm_up);  // delivered without ever having one

    // The destination goes away: what waits for it is on disk as files, the original and its output.
    sink.signal(SIGKILL);
    sink.wait(10s);
    REQUIRE_FALSE(sink.running());
    REQUIRE(gwtest::store(gw.port, std::vector<std::string>(files.begin() + 7, files.end())).acked.size() == 6);
    const std::string spool = gw.state() + "/spool";
    const auto count = [](const std::string& dir) {
        std::size_t n = 0;
        for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
        return n;
    };
    const bool both = eventually([&] { return count(spool + "/outgoing/pacs") == 6 && count(spool + "/incoming") == 6; }, 30s);
    INFO("outgoing " << count(spool + "/outgoing/pacs") << ", incoming " << count(spool + "/incoming"));
    INFO(gw.log());
    CHECK(both);
    CHECK(eventually([&] { return metric("deid_journal_incoming_files_written_total") == warm_up + 6; }, 20s));
}
