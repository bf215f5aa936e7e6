// The broker must not become an oracle (issue 14): per-connection rate limits, counts audited per
// interval, an alarm on many new patients for few instances, no keystore growth from questions
// without an instance, a connection cap and bounded frame memory. Real broker processes, raw
// clients on its Unix socket.
#include "keystore/BrokerConnection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/BrokerClient.h"
#include "keystore/Frame.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kKeystore = std::string(DEID_BIN_DIR) + "/deid-keystore";

struct Broker {
    testsupport::TempDir dir;
    std::string config_path = dir / "config.json";
    std::string state = dir / "var";
    std::string socket = state + "/run/keystore.sock";
    std::string log = dir / "broker.log";
    testsupport::Child child;

    explicit Broker(const json& keystore) {
        testsupport::write_file(config_path, json{{"state_dir", state}, {"keystore", keystore}}.dump());
        child = testsupport::Child({kKeystore, "serve", "--config", config_path}, log);
        const auto deadline = Clock::now() + 15s;
        while (Clock::now() < deadline) {
            REQUIRE(child.running());
            if (health().value("ok", false)) return;
            std::this_thread::sleep_for(20ms);
        }
        FAIL("the broker did not answer within 15 s");
    }

    json health() {
        try {
            keystore::BrokerConnection c(socket, 2s);
            return c.request({{"op", "health"}});
        } catch (const std::exception&) {
            return json::object();
        }
    }

    testsupport::RunResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv = {kKeystore};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--config");
        argv.push_back(config_path);
        return testsupport::run(argv, 30s);
    }

    // Polls `audit list --action OP --json` until a record shows up (bounded).
    json audit_records(const std::string& op, std::chrono::seconds limit = 15s) {
        const auto deadline = Clock::now() + limit;
        while (Clock::now() < deadline) {
            const auto r = cli({"audit", "list", "--action", op, "--json"});
            if (r.exit_code == 0) {
                const json j = json::parse(r.output, nullptr, false);
                if (j.is_array() && !j.empty()) return j;
                if (j.is_object() && j.contains("records") && !j["records"].empty()) return j["records"];
            }
            std::this_thread::sleep_for(200ms);
        }
        return json::array();
    }

    long rss_kib() {
        std::ifstream in("/proc/" + std::to_string(child.pid()) + "/status");
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return -1;
    }
};

int connect_raw(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

bool write_all(int fd, const std::string& bytes) {
    std::size_t at = 0;
    while (at < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
        if (n <= 0) return false;
        at += static_cast<std::size_t>(n);
    }
    return true;
}

// True when the peer closed `fd` within `limit` (reads and drops whatever arrives first).
bool closed_by_peer(int fd, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return true;
    }
    return false;
}

// Sends `count` pipelined questions made by `make(i)` on one connection and reads the replies;
// returns the seconds from the first write to the last reply and the replies.
std::pair<double, std::vector<json>> pipelined(const std::string& socket, int count,
                                               const std::function<json(int)>& make) {
    const int fd = connect_raw(socket);
    std::vector<json> replies;
    const auto t0 = Clock::now();
    std::thread writer([&] {
        for (int i = 0; i < count; ++i)
            if (!write_all(fd, keystore::frame(make(i).dump()))) return;
    });
    std::string in;
    char buf[65536];
    const auto deadline = t0 + 60s;
    while (static_cast<int>(replies.size()) < count && Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        while (in.size() >= 4) {
            const std::uint32_t len = keystore::frame_length(reinterpret_cast<const unsigned char*>(in.data()));
            if (in.size() < 4 + len) break;
            replies.push_back(json::parse(in.substr(4, len)));
            in.erase(0, 4 + len);
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    ::shutdown(fd, SHUT_RDWR);
    writer.join();
    ::close(fd);
    return {seconds, replies};
}

}  // namespace

TEST_CASE("guessing Patient IDs is slowed to the per-connection rate, counted, audited and alarmed", "[broker][limits]") {
    // 200 questions/s per connection (1 s of burst): 1,000 guesses need at least 4 s.
    Broker broker(json{{"limits", {{"questions_per_second", 200}}},
                   {"audit_interval_seconds", 1},
                   {"alarm", {{"min_new_patients", 50}}}});
    const int kGuesses = 1000;
    const auto [seconds, replies] = pipelined(broker.socket, kGuesses, [](int i) {
        const std::string id = "GUESS-" + std::to_string(1000000 + i);
        return json{{"op", "resolve"}, {"issuer", "H"}, {"patient_id", id}, {"uids", {"1.2.840.99." + std::to_string(i)}},
                    {"instance_uid", "1.2.840.99." + std::to_string(i)}};
    });
    REQUIRE(static_cast<int>(replies.size()) == kGuesses);
    for (const json& r : replies) REQUIRE(r["ok"] == true);  // slowed, not refused
    const double rate = kGuesses / seconds;
    INFO("questions/s on one connection: " << rate << " (" << seconds << " s)");
    CHECK(seconds >= (kGuesses - 200) / 200.0 * 0.95);  // the burst, then the cap
    CHECK(rate <= 200 * 1.3);
    const json health = broker.health();
    CHECK(health["rate_limited"].get<long>() > 0);

    // Counted per interval, with no value: the questions record and the alarm (1 new patient per
    // instance, above keystore.alarm.new_patients_per_instance 0.5).
    const json questions = broker.audit_records("questions");
    REQUIRE(!questions.empty());
    long asked = 0, new_patients = 0;
    for (const json& r : questions) {
        const json d = r["detail"].is_string() ? json::parse(r["detail"].get<std::string>()) : r["detail"];
        asked += d["questions"].get<long>();
        new_patients += d["new_patients"].get<long>();
    }
    CHECK(asked >= kGuesses - 200);  // the last interval may still be open
    CHECK(new_patients >= 50);
    const json alarms = broker.audit_records("alarm");
    REQUIRE(!alarms.empty());
    const std::string listed = broker.cli({"audit", "list"}).output;
    CHECK(listed.find("GUESS-") == std::string::npos);
    CHECK(listed.find("1.2.840.99.") == std::string::npos);
    CHECK(broker.health()["alarms"].get<long>() >= 1);
    const std::string log = testsupport::read_file(broker.log);
    CHECK(log.find("ALARM") != std::string::npos);
    CHECK(log.find("GUESS-") == std::string::npos);
    CHECK(broker.cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("keyed hashes are limited by values per second", "[broker][limits]") {
    Broker broker(json{{"limits", {{"questions_per_second", 100000}, {"values_per_second", 5000}}}});
    // 1,000 hashes per question: 5 questions of burst, then 5 per second; 20 questions >= 2.8 s.
    const auto [seconds, replies] = pipelined(broker.socket, 20, [](int i) {
        json hashes = json::array();
        for (int k = 0; k < 1000; ++k) hashes.push_back("MRN" + std::to_string(i * 1000 + k));
        return json{{"op", "resolve"}, {"issuer", "H"}, {"patient_id", "KNOWN"}, {"hashes", hashes},
                    {"instance_uid", "1.2.3." + std::to_string(i)}};
    });
    REQUIRE(replies.size() == 20);
    for (const json& r : replies) REQUIRE(r["ok"] == true);
    INFO("hashes/s: " << 20000 / seconds);
    CHECK(seconds >= 2.6);
    CHECK(20000 / seconds <= 5000 * 1.5);
}

TEST_CASE("a question without an instance adds no patient to the keystore", "[broker][limits]") {
    Broker broker(json::object());
    keystore::BrokerConnection c(broker.socket, 5s);
    for (int i = 0; i < 100; ++i) {
        const json r = c.request({{"op", "resolve"},
                                  {"issuer", "H"},
                                  {"patient_id", "NOINST-" + std::to_string(i)},
                                  {"uids", {"1.2.5." + std::to_string(i)}}});
        REQUIRE(r["ok"] == false);
        CHECK(r["error"].get<std::string>().find("instance_uid") != std::string::npos);
        CHECK(r.dump().find("NOINST") == std::string::npos);
    }
    json h = broker.health();
    CHECK(h["patients"] == 0);
    CHECK(h["uids"] == 0);
    CHECK(h["without_instance"] == 100);
    // With its instance the patient is recorded; then questions without one are answered for it.
    const json with = c.request({{"op", "resolve"}, {"issuer", "H"}, {"patient_id", "NOINST-1"}, {"uids", {"1.2.5.1"}},
                                 {"instance_uid", "1.2.5.1"}});
    REQUIRE(with["ok"] == true);
    const json again = c.request({{"op", "resolve"}, {"issuer", "H"}, {"patient_id", "NOINST-1"}, {"hashes", {"X"}}});
    REQUIRE(again["ok"] == true);
    CHECK(again["pseudonym"] == with["pseudonym"]);
    h = broker.health();
    CHECK(h["patients"] == 1);
    CHECK(h["uids"] == 1);
    // The gateway's client sends the instance: its own questions are never refused.
    keystore::BrokerClient client(broker.socket);
    deid::PseudonymRequest q;
    q.issuer = "H";
    q.patient_id = "GW-1";
    q.instance_uid = "1.2.6.1";
    q.uids = {"1.2.6.1"};
    CHECK(!client.resolve(q).pseudonym.empty());
    // A question with more UIDs than one frame may hold (a Key Object Selection of a large study)
    // is split by the client into several frames under keystore.limits.max_frame_bytes.
    deid::PseudonymRequest big = q;
    big.uids.clear();
    for (int i = 0; i < 20000; ++i) big.uids.push_back("1.2.840.113619.2.55.3.604688119.971.1.7." + std::to_string(i));
    const deid::PseudonymReply many = client.resolve(big);
    REQUIRE(many.uids.size() == big.uids.size());
    std::set<std::string> distinct(many.uids.begin(), many.uids.end());
    CHECK(distinct.size() == big.uids.size());
    CHECK(broker.health()["rejected"] == 0);
}

TEST_CASE("400 connections holding nearly complete frames: connections capped, memory bounded, partial frames "
          "time out", "[broker][limits]") {
    Broker broker(json{{"limits", {{"max_connections", 32}, {"frame_timeout_seconds", 2}}}});
    const long rss_before = broker.rss_kib();
    REQUIRE(rss_before > 0);
    // Each announces a frame just under keystore.limits.max_frame_bytes (256 KiB) and sends all
    // of it but the last byte.
    const std::uint32_t announced = 262144 - 16;
    const std::string partial = keystore::frame_header(announced) + std::string(announced - 1, 'x');
    std::vector<int> fds;
    for (int i = 0; i < 400; ++i) {
        const int fd = connect_raw(broker.socket);
        fds.push_back(fd);
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, 0) == 1) {  // a refused connection may already be closed
            const int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
            std::size_t at = 0;
            while (at < partial.size()) {
                const ssize_t n = ::send(fd, partial.data() + at, partial.size() - at, flags);
                if (n <= 0) break;
                at += static_cast<std::size_t>(n);
            }
        }
    }
    // Refused ones are closed at once; the broker holds at most max_connections partial frames.
    int refused = 0;
    for (int fd : fds)
        if (closed_by_peer(fd, 5ms)) ++refused;
    std::this_thread::sleep_for(300ms);  // let the broker read what the admitted ones sent
    const long rss_during = broker.rss_kib();
    INFO("broker VmRSS before " << rss_before << " KiB, with 400 connections " << rss_during << " KiB");
    CHECK(refused >= 400 - 32);
    CHECK(rss_during - rss_before < 32 * 1024);  // 32 x 256 KiB is 8 MiB; 450 MB before the limits
    // Partial frames not completed within frame_timeout_seconds: closed by the broker.
    int timed_out = 0;
    for (int fd : fds)
        if (closed_by_peer(fd, 6s)) ++timed_out;
    CHECK(timed_out == 400);
    for (int fd : fds) ::close(fd);
    const json h = broker.health();
    REQUIRE(h.value("ok", false));
    CHECK(h["connections_refused"].get<long>() >= 400 - 32);
    // A normal client is served afterwards.
    keystore::BrokerConnection c(broker.socket, 5s);
    CHECK(c.request({{"op", "resolve"}, {"patient_id", "P"}, {"uids", {"1.2.3"}}, {"instance_uid", "1.2.3"}})["ok"] == true);
    std::this_thread::sleep_for(10ms);
    CHECK(broker.health()["connections"].get<long>() <= 2);
}

namespace {

deid::PseudonymRequest question(const std::string& patient, const std::string& uid) {
    deid::PseudonymRequest q;
    q.issuer = "H";
    q.patient_id = patient;
    q.instance_uid = uid;
    q.uids = {uid};
    return q;
}

// Polls the health reply until `key` reaches `at_least` (bounded); returns the last value seen.
long wait_for_count(Broker& broker, const std::string& key, long at_least, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    long seen = -1;
    while (Clock::now() < deadline) {
        const json h = broker.health();
        if (h.contains(key)) seen = h[key].get<long>();
        if (seen >= at_least) return seen;
        std::this_thread::sleep_for(50ms);
    }
    return seen;
}

}  // namespace

TEST_CASE("64 idle connections at the cap do not lock the gateway's client out: the idlest is closed to admit it",
          "[broker][limits][idle]") {
    // idle_seconds 30: the answer below must come from the cap's eviction, not from the idle timeout.
    Broker broker(json{{"limits", {{"max_connections", 64}, {"idle_seconds", 30}}}});
    std::vector<int> fds;
    for (int i = 0; i < 64; ++i) fds.push_back(connect_raw(broker.socket));
    std::this_thread::sleep_for(1200ms);  // precondition: idle for at least kMinIdleToEvict (1 s)
    keystore::BrokerClient client(broker.socket);
    const auto t0 = Clock::now();
    const deid::PseudonymReply first = client.resolve(question("IDLE-CAP-PATIENT", "1.2.7.1"));
    const deid::PseudonymReply again = client.resolve(question("IDLE-CAP-PATIENT-2", "1.2.7.2"));
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    INFO("two answers at the cap in " << seconds << " s");
    CHECK(!first.pseudonym.empty());
    CHECK(!again.pseudonym.empty());
    CHECK(seconds < 30);  // within the idle timeout
    int closed = 0;
    for (int fd : fds)
        if (closed_by_peer(fd, 5ms)) ++closed;
    CHECK(closed >= 1);
    CHECK(closed < 64);  // only as many as were needed (the client's and the health connections')
    CHECK(wait_for_count(broker, "connections_evicted", 1, 10s) >= 1);
    for (int fd : fds) ::close(fd);
}

TEST_CASE("an idle connection is closed after keystore.limits.idle_seconds (counted and logged) and the client "
          "reconnects transparently", "[broker][limits][idle]") {
    Broker broker(json{{"limits", {{"idle_seconds", 1}}}, {"audit_interval_seconds", 1}});
    const int fd = connect_raw(broker.socket);
    const auto t0 = Clock::now();
    REQUIRE(closed_by_peer(fd, 10s));
    const auto after = Clock::now() - t0;
    ::close(fd);
    CHECK(after >= 900ms);
    keystore::BrokerClient client(broker.socket);
    const deid::PseudonymReply first = client.resolve(question("IDLE-PATIENT-7", "1.2.8.1"));
    // The client's pooled connection is closed by the broker as well (the raw one counted first).
    REQUIRE(wait_for_count(broker, "connections_idle_closed", 2, 15s) >= 2);
    const deid::PseudonymReply second = client.resolve(question("IDLE-PATIENT-7", "1.2.8.2"));
    CHECK(second.pseudonym == first.pseudonym);
    CHECK(second.date_offset_days == first.date_offset_days);
    CHECK(!second.uids.at(0).empty());
    // The interval's summary line names the key, never a value.
    const auto deadline = Clock::now() + 15s;
    std::string log;
    while (Clock::now() < deadline) {
        log = testsupport::read_file(broker.log);
        if (log.find("idle broker connections closed (keystore.limits.idle_seconds 1)") != std::string::npos) break;
        std::this_thread::sleep_for(100ms);
    }
    CHECK(log.find("idle broker connections closed (keystore.limits.idle_seconds 1)") != std::string::npos);
    CHECK(log.find("IDLE-PATIENT-7") == std::string::npos);
    CHECK(log.find("1.2.8.1") == std::string::npos);
}

TEST_CASE("at the cap with no idle connection a new one gets a refusal naming keystore.limits.max_connections",
          "[broker][limits][idle]") {
    Broker broker(json{{"limits", {{"max_connections", 2}, {"questions_per_second", 1}}}});
    // Two busy connections: 20 pipelined questions each at 1 per second keep them waiting.
    std::vector<int> fds;
    std::string burst;
    for (int i = 0; i < 20; ++i) burst += keystore::frame(json{{"op", "health"}}.dump());
    for (int i = 0; i < 2; ++i) {
        fds.push_back(connect_raw(broker.socket));
        REQUIRE(write_all(fds.back(), burst));
    }
    keystore::BrokerClient client(broker.socket);
    std::string error;
    try {
        client.resolve(question("REFUSED-PATIENT", "1.2.9.1"));
    } catch (const deid::PseudonymUnavailable& e) {
        error = e.what();
    }
    INFO(error);
    CHECK(error.find("keystore.limits.max_connections (2)") != std::string::npos);
    CHECK(error.find("REFUSED-PATIENT") == std::string::npos);
    for (int fd : fds) ::close(fd);
    CHECK(wait_for_count(broker, "connections_refused", 1, 10s) >= 1);
}
