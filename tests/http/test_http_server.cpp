#include "http/HttpServer.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "http/HttpClient.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

http::StatusSnapshot ready_snapshot() {
    http::StatusSnapshot s;
    s.version = "0.1.0";
    s.generated_at = "2026-12-01T20:00:00Z";
    s.listener = {true, "DEIDGW", "127.0.0.1", 11112, 0};
    s.broker.up = true;
    s.broker.round_trip_ms = 0.4;
    s.spool.writable = true;
    s.spool.has_room = true;
    http::DestinationStatus d;
    d.name = "pacs";
    d.kind = "dicom";
    s.destinations.push_back(d);
    return s;
}

// A server on 127.0.0.1:0 whose snapshot the test changes.
struct Fixture {
    metrics::Registry registry;
    std::mutex mutex;
    http::StatusSnapshot snapshot = ready_snapshot();
    http::Endpoint endpoint{registry, [this] {
                                std::lock_guard<std::mutex> lock(mutex);
                                return snapshot;
                            }};
    http::HttpServer server{http::ServerSettings{"127.0.0.1", 0, 4}, endpoint};
    Fixture() { REQUIRE_FALSE(server.start()); }
    http::GetResult get(const std::string& target) { return http::get("127.0.0.1", server.port(), target, 10s); }
};

int connect_raw(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

}  // namespace

TEST_CASE("GET /metrics answers the registry's exposition as Prometheus text") {
    Fixture f;
    f.registry.counter("deid_delivered_total", "Delivered.", {{"destination", "pacs"}}).inc(4);
    const auto r = f.get("/metrics");
    REQUIRE_FALSE(r.error);
    CHECK(r.status == 200);
    CHECK(r.content_type == metrics::Registry::kContentType);
    CHECK(r.body.find("deid_delivered_total{destination=\"pacs\"} 4\n") != std::string::npos);
}

TEST_CASE("/healthz is alive and /readyz is 503 naming each failing check and 200 once all pass") {
    Fixture f;
    auto h = f.get("/healthz");
    CHECK(h.status == 200);
    CHECK(json::parse(h.body)["alive"] == true);
    {
        std::lock_guard<std::mutex> lock(f.mutex);
        f.snapshot.broker.up = false;
        f.snapshot.broker.problem = "no answer to a health request within 2 s";
        f.snapshot.spool.has_room = false;
        f.snapshot.spool.problem = "free disk below spool.min_free_bytes";
    }
    auto r = f.get("/readyz");
    CHECK(r.status == 503);
    auto body = json::parse(r.body);
    CHECK(body["ready"] == false);
    CHECK(body["checks"]["broker"]["ok"] == false);
    CHECK(body["checks"]["broker"]["detail"] == "no answer to a health request within 2 s");
    CHECK(body["checks"]["spool"]["ok"] == false);
    CHECK(body["checks"]["spool"]["detail"] == "free disk below spool.min_free_bytes");
    CHECK(body["checks"]["listener"]["ok"] == true);
    {
        std::lock_guard<std::mutex> lock(f.mutex);
        f.snapshot = ready_snapshot();
    }
    r = f.get("/readyz");
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["ready"] == true);
}

TEST_CASE("/status.json round-trips the snapshot, unknown targets are 404 and other methods 405") {
    Fixture f;
    const auto r = f.get("/status.json");
    REQUIRE(r.status == 200);
    const auto back = json::parse(r.body).get<http::StatusSnapshot>();
    CHECK(back.destinations.at(0).name == "pacs");
    CHECK(back.broker.round_trip_ms == Approx(0.4));
    CHECK(f.get("/nothing-here").status == 404);
    const auto post = testsupport::run(
        {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--max-time", "10",
         "http://127.0.0.1:" + std::to_string(f.server.port()) + "/metrics"},
        20s);
    CHECK(post.output == "405");
}

TEST_CASE("an oversized request header is answered 400 and the server goes on serving") {
    Fixture f;
    const auto big = testsupport::run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-H",
                                       "X-Big: " + std::string(20000, 'a'),
                                       "http://127.0.0.1:" + std::to_string(f.server.port()) + "/healthz"},
                                      20s);
    CHECK(big.output == "400");
    CHECK(f.get("/healthz").status == 200);
}

TEST_CASE("a client that sends half a request does not delay another one") {
    Fixture f;
    const int slow = connect_raw(f.server.port());
    const std::string half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";  // never finished
    REQUIRE(::send(slow, half.data(), half.size(), 0) == static_cast<ssize_t>(half.size()));
    const auto start = std::chrono::steady_clock::now();
    const auto r = f.get("/healthz");
    CHECK(r.status == 200);
    // Served while the slow request is still open (its deadline is 10 s).
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    ::close(slow);
}

TEST_CASE("connections beyond max_connections are closed at once, the others are served") {
    Fixture f;  // max_connections 4
    std::vector<int> idle;
    for (int i = 0; i < 4; ++i) idle.push_back(connect_raw(f.server.port()));
    // The fifth is accepted by the kernel and closed by the server: the read sees end of file.
    const int extra = connect_raw(f.server.port());
    char c;
    timeval tv{10, 0};
    setsockopt(extra, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(::recv(extra, &c, 1, 0) == 0);
    ::close(extra);
    for (const int fd : idle) ::close(fd);
    // Once they are gone, a new client is served (the server notices the closes on its own).
    http::GetResult r;
    for (int i = 0; i < 100 && r.status != 200; ++i) {
        r = f.get("/healthz");
        if (r.status != 200) std::this_thread::sleep_for(50ms);
    }
    CHECK(r.status == 200);
}

TEST_CASE("a bind address that is not an IP address is an error, not a crash") {
    metrics::Registry registry;
    http::Endpoint endpoint{registry, [] { return http::StatusSnapshot{}; }};
    http::HttpServer server{http::ServerSettings{"not-an-address", 0, 4}, endpoint};
    CHECK(server.start());
}
