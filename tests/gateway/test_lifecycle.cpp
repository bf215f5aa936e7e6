// Lifecycle faults of `deid-gateway serve`, with the real binary and real peers: the broker child
// dying, Ctrl-C and SIGHUP, SIGTERM while a peer trickles bytes, a peer that serves one association
// at a time.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;

namespace {

bool wait_for_log(const Gateway& gw, const std::string& needle, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (gw.log().find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

// The live children of `parent` (found by their parent pid in /proc), optionally only those whose
// command is `command`.
std::vector<long> children_of(long parent, const std::string& command = "") {
    namespace fs = std::filesystem;
    std::vector<long> found;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        if (!command.empty() && stat.find("(" + command + ")") == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        long ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent && state != "Z") found.push_back(std::stol(name));
    }
    return found;
}

// A gateway config with one destination, "pacs": the storescp at `port` (AE SINK).
json to_pacs(int port, int associations) {
    return json{{"destinations", json::array({{{"name", "pacs"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"},
                                               {"port", port}, {"associations", associations}}})}};
}

// The gateway's deid-keystore child.
long broker_pid(const Gateway& gw) {
    const auto pids = children_of(gw.child.pid(), "deid-keystore");
    return pids.empty() ? -1 : pids.front();
}

std::vector<std::string> paths(const std::vector<testdata::Written>& w) {
    std::vector<std::string> out;
    for (auto& x : w) out.push_back(x.path);
    return out;
}

std::vector<std::string> small_study(const std::string& dir, int n) {
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", n}};
    return paths(testdata::write_study(dir, spec));
}

// Starts `gw`, which delivers the first of two small instances to the sink writing into `sink_in`;
// returns both.
std::vector<std::string> first_of_two_delivered(Gateway& gw, const std::string& src, const std::string& sink_in) {
    REQUIRE(gw.start());
    const auto files = small_study(src, 2);
    REQUIRE(store(gw.port, {files[0]}).acked.size() == 1);
    REQUIRE(wait_for_files(sink_in, 1, 30s));
    return files;
}

}  // namespace

TEST_CASE("the broker runs in its own process group: Ctrl-C reaches the gateway only, which drains and stops it") {
    testsupport::TempDir src;
    Gateway gw;
    REQUIRE(gw.start());
    REQUIRE(wait_for_log(gw, "ready:", 30s));
    const long broker = broker_pid(gw);
    REQUIRE(broker > 0);
    CHECK(::getpgid(static_cast<pid_t>(broker)) != ::getpgid(gw.child.pid()));
    REQUIRE(store(gw.port, small_study(src.path(), 3)).acked.size() == 3);
    REQUIRE(wait_for_files(gw.dir / "outbox", 3, 30s));
    ::kill(-gw.child.pid(), SIGINT);  // what a terminal's Ctrl-C does: the whole foreground group
    CHECK(gw.child.wait(30s) == 0);
    const std::string log = gw.log();
    INFO(log);
    CHECK(log.find("received SIGINT") != std::string::npos);
    CHECK(log.find("stopped;") != std::string::npos);
    CHECK(log.find("stays in incoming") == std::string::npos);  // no worker lost its broker midway
    CHECK(::kill(static_cast<pid_t>(broker), 0) != 0);                 // and the broker is gone
}

TEST_CASE("a broker child that dies is noticed, logged and restarted, and instances wait for it") {
    testsupport::TempDir src;
    Gateway gw;
    REQUIRE(gw.start());
    REQUIRE(wait_for_log(gw, "ready:", 30s));
    const long broker = broker_pid(gw);
    REQUIRE(broker > 0);
    ::kill(static_cast<pid_t>(broker), SIGKILL);
    const auto sent = store(gw.port, small_study(src.path(), 3));  // while it is down or restarting
    CHECK(sent.acked.size() == 3);
    REQUIRE(wait_for_log(gw, "keystore broker (pid " + std::to_string(broker) + ") was killed by signal 9", 10s));
    REQUIRE(wait_for_log(gw, "the keystore broker answers again", 30s));
    if (!wait_for_files(gw.dir / "outbox", 3, 60s)) FAIL(gw.log());
    CHECK(gw.child.running());
}

TEST_CASE("SIGHUP is logged and runs the reload hooks, the gateway keeps serving") {
    testsupport::TempDir src;
    Gateway gw(json{{"log", {{"level", "info"}}}});
    REQUIRE(gw.start());
    REQUIRE(wait_for_log(gw, "ready:", 30s));
    gw.child.signal(SIGHUP);
    REQUIRE(wait_for_log(gw, "received SIGHUP", 10s));
    REQUIRE(wait_for_log(gw, "log level info", 10s));
    CHECK(gw.child.running());
    REQUIRE(store(gw.port, small_study(src.path(), 1)).acked.size() == 1);
    CHECK(wait_for_files(gw.dir / "outbox", 1, 30s));
}

TEST_CASE("SIGTERM is honoured within shutdown_timeout_seconds while a peer trickles bytes") {
    Gateway gw(json{{"shutdown_timeout_seconds", 2}, {"listen", {{"acse_timeout_seconds", 60}}}});
    REQUIRE(gw.start());
    REQUIRE(wait_for_log(gw, "ready:", 30s));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(gw.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    // An A-ASSOCIATE-RQ announcing 4 KiB, then one byte every 100 ms.
    const unsigned char header[] = {0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x01};
    REQUIRE(::send(fd, header, sizeof header, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof header));
    std::atomic<bool> stop{false};
    std::atomic<int> trickled{0};
    std::thread trickle([&] {
        const unsigned char byte = 0x20;
        while (!stop && ::send(fd, &byte, 1, MSG_NOSIGNAL) == 1) {
            ++trickled;
            std::this_thread::sleep_for(100ms);
        }
    });
    while (trickled < 5) std::this_thread::sleep_for(20ms);
    const auto signalled = std::chrono::steady_clock::now();
    gw.child.signal(SIGTERM);
    const int code = gw.child.wait(30s);
    const auto took = std::chrono::steady_clock::now() - signalled;
    stop = true;
    trickle.join();
    ::close(fd);
    INFO(gw.log());
    CHECK(code != -1);
    CHECK(took < 2s + 4s);  // the timeout and a short grace
}

TEST_CASE("a peer that serves one association at a time gets a 200-instance study with no instance waiting long") {
    testsupport::TempDir src, sink_dir;
    const int sink_port = testsupport::free_port();
    std::filesystem::create_directories(sink_dir / "in");
    // Plain storescp (no --fork): one association at a time.
    testsupport::Child sink(with_shim({"storescp", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)}),
                            sink_dir / "storescp.log");
    REQUIRE(testsupport::wait_for_port(sink_port));
    Gateway gw(to_pacs(sink_port, 4));
    REQUIRE(gw.start());
    const auto sent = store(gw.port, small_study(src.path(), 200));
    REQUIRE(sent.acked.size() == 200);
    if (!wait_for_files(sink_dir / "in", 200, 120s)) FAIL(gw.log());
    REQUIRE(wait_for_log(gw, "delivered", 10s));
    // Every delivery's latency (reception to the peer's Success), from the gateway's log.
    static const std::regex latency("latency_ms=([0-9]+)");
    long worst = 0;
    int delivered = 0;
    std::istringstream lines(gw.log());
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (line.find("delivered") != std::string::npos && std::regex_search(line, m, latency)) {
            worst = std::max(worst, std::stol(m[1]));
            ++delivered;
        }
    }
    const std::string log = gw.log();
    INFO(log.substr(0, 20000));
    CHECK(delivered == 200);
    CHECK(worst < 8000);
    // The peer is not declared down: at most a warning that names what happened.
    CHECK(log.find("destination paused") == std::string::npos);
    const auto capped = log.find("did not accept association");
    if (capped != std::string::npos)
        CHECK(log.find("it serves fewer associations at a time", capped) != std::string::npos);
}

TEST_CASE("a kept-open association the peer dropped is resent on a new one, and the log says so") {
    testsupport::TempDir src, sink_dir;
    const int sink_port = testsupport::free_port();
    std::filesystem::create_directories(sink_dir / "in");
    // storescp --fork serves each association in a child process whose pid it logs.
    testsupport::Child sink(with_shim({"storescp", "--fork", "-v", "-aet", "SINK", "-od", sink_dir / "in",
                                       std::to_string(sink_port)}),
                            sink_dir / "storescp.log");
    REQUIRE(testsupport::wait_for_port(sink_port));
    Gateway gw(to_pacs(sink_port, 1));
    const auto files = first_of_two_delivered(gw, src.path(), sink_dir / "in");
    // The peer drops the kept-open association: its child process ends (killed by its pid).
    static const std::regex child_pid("Association Received in child process \\(pid: ([0-9]+)\\)");
    const std::string peer_log = testsupport::read_file(sink_dir / "storescp.log");
    std::vector<long> pids;
    for (std::sregex_iterator it(peer_log.begin(), peer_log.end(), child_pid), end; it != end; ++it)
        pids.push_back(std::stol((*it)[1]));
    INFO(peer_log);
    REQUIRE_FALSE(pids.empty());
    ::kill(static_cast<pid_t>(pids.back()), SIGKILL);
    REQUIRE(store(gw.port, {files[1]}).acked.size() == 1);
    REQUIRE(wait_for_files(sink_dir / "in", 2, 30s));
    CHECK(wait_for_log(gw, "resent on a new one", 10s));
}

TEST_CASE("an output on its way in memory whose send fails is written to the spool and delivered from there") {
    testsupport::TempDir src, sink_dir;
    const int sink_port = testsupport::free_port();
    std::filesystem::create_directories(sink_dir / "in");
    auto sink = std::make_unique<testsupport::Child>(
        with_shim({"storescp", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)}), sink_dir / "storescp.log");
    REQUIRE(testsupport::wait_for_port(sink_port));
    Gateway gw(to_pacs(sink_port, 1));
    // Once the peer has taken an instance, the next output goes to its sender in memory, no file made.
    const auto files = first_of_two_delivered(gw, src.path(), sink_dir / "in");
    sink->signal(SIGKILL);
    sink->wait(10s);
    REQUIRE_FALSE(sink->running());
    REQUIRE(store(gw.port, {files[1]}).acked.size() == 1);
    // The send fails (the peer is gone): its output is written for the retry, the original kept.
    const std::string outgoing = gw.state() + "/spool/outgoing/pacs";
    INFO(gw.log());
    REQUIRE(testsupport::wait_until([&] { return files_under(outgoing).size() == 1; }, 30s));
    CHECK(files_under(gw.state() + "/spool/incoming").size() == 1);
    sink = std::make_unique<testsupport::Child>(
        with_shim({"storescp", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)}), sink_dir / "storescp2.log");
    REQUIRE(wait_for_files(sink_dir / "in", 2, 30s));
    CHECK(testsupport::wait_until([&] { return files_under(outgoing).empty() && files_under(gw.state() + "/spool/incoming").empty(); }, 10s));
    std::set<std::string> uids;
    for (const auto& f : files_under(sink_dir / "in")) uids.insert(read_attributes(f).sop_uid);
    CHECK(uids.size() == 2);
}

TEST_CASE("outputs sent from memory leave no file behind, also once recycled output files exist") {
    testsupport::TempDir src, sink_dir;
    const int sink_port = testsupport::free_port();
    std::filesystem::create_directories(sink_dir / "in");
    Gateway gw(to_pacs(sink_port, 1));
    REQUIRE(gw.start());
    const auto files = small_study(src.path(), 50);
    // The peer is down: the outputs wait as files, and once delivered, 32 of them (a synced batch)
    // may be written over by later outputs.
    REQUIRE(store(gw.port, std::vector<std::string>(files.begin(), files.begin() + 40)).acked.size() == 40);
    const std::string outgoing = gw.state() + "/spool/outgoing/pacs";
    INFO(gw.log());
    REQUIRE(testsupport::wait_until([&] { return files_under(outgoing).size() == 40; }, 30s));
    testsupport::Child sink(with_shim({"storescp", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)}),
                            sink_dir / "storescp.log");
    REQUIRE(wait_for_files(sink_dir / "in", 40, 60s));
    // The peer takes instances now: these go to it in memory.
    REQUIRE(store(gw.port, std::vector<std::string>(files.begin() + 40, files.end())).acked.size() == 10);
    REQUIRE(wait_for_files(sink_dir / "in", 50, 30s));
    REQUIRE(testsupport::wait_until([&] { return files_under(gw.state() + "/spool/incoming").empty(); }, 10s));
    CHECK(wait_for_log(gw, "from memory", 10s));
    // Nothing is left in tmp/ but the pools of recycled files.
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(gw.state() + "/spool/tmp"))
        if (e.is_regular_file()) left.push_back(e.path().filename().string());
    CHECK(left.empty());
}

TEST_CASE("an outage seen by several open associations pauses the destination once, doubling once per outage") {
    testsupport::TempDir src, sink_dir;
    const int sink_port = testsupport::free_port();
    std::filesystem::create_directories(sink_dir / "in");
    Gateway gw(to_pacs(sink_port, 4));
    REQUIRE(gw.start());
    // The peer is down while the study arrives: its queue gets deep.
    REQUIRE(store(gw.port, small_study(src.path(), 600)).acked.size() == 600);
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (files_under(gw.state() + "/spool/outgoing/pacs").size() < 600 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(50ms);
    REQUIRE(files_under(gw.state() + "/spool/outgoing/pacs").size() == 600);
    testsupport::Child sink(
        with_shim({"storescp", "--fork", "-v", "-aet", "SINK", "-od", sink_dir / "in", std::to_string(sink_port)}),
        sink_dir / "storescp.log");
    // With the queue deep, several associations deliver at once; then the peer goes away under all of them.
    if (!wait_for_log(gw, "forward pacs#2: delivered", 60s)) FAIL(gw.log().substr(gw.log().size() > 6000 ? gw.log().size() - 6000 : 0));
    const auto before = gw.log().size();
    // The listener stops first (no new child), then every child it forked dies with it: a child left
    // running would deliver once more and end the outage early.
    sink.signal(SIGSTOP);
    for (long child : children_of(sink.pid())) ::kill(static_cast<pid_t>(child), SIGKILL);
    sink.signal(SIGKILL);
    // Three outages in a row after the kill (100, 200, 400 ms).
    const auto limit = std::chrono::steady_clock::now() + 30s;
    while (gw.log().find("destination paused for 400 ms", before) == std::string::npos &&
           std::chrono::steady_clock::now() < limit)
        std::this_thread::sleep_for(50ms);
    // Each outage is logged once, and the next one only after the pause (100 ms, doubling) is over.
    static const std::regex paused("^[0-9-]+T[0-9]+:([0-9]+):([0-9.]+)Z .*destination paused for ([0-9]+) ms");
    std::vector<std::pair<double, long>> pauses;  // (seconds within the hour, pause)
    std::istringstream lines(gw.log().substr(before));
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (std::regex_search(line, m, paused))
            pauses.push_back({std::stod(m[1]) * 60 + std::stod(m[2]), std::stol(m[3])});
    }
    std::string warnings;
    std::istringstream all(gw.log().substr(before));
    for (std::string line; std::getline(all, line);)
        if (line.find("WARN") != std::string::npos || line.find("ERROR") != std::string::npos) warnings += line + "\n";
    INFO(warnings);
    REQUIRE(pauses.size() >= 3);
    CHECK(pauses[0].second == 100);
    CHECK(pauses[1].second == 200);
    CHECK(pauses[2].second == 400);
    for (std::size_t i = 1; i < 3; ++i) CHECK(pauses[i].first - pauses[i - 1].first >= pauses[i - 1].second / 1000.0 * 0.9);
}
