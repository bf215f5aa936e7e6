// Hostile clients against the listener (issue 14): each attack runs from 127.0.0.2 while a normal
// storescu from 127.0.0.1 sends 20 instances, which must all get Success within 10 s.
#include "dimse/StoreScp.h"

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include "dimse/DimseStatus.h"
#include "tests/dimse/ListenerSupport.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using testsupport::run;
namespace asio = boost::asio;

using testsupport::wait_until;

namespace {

using listenertest::CountingHandler;

struct Listener {
    testsupport::TempDir dir;
    CountingHandler handler;
    listenertest::LogLines log;
    std::unique_ptr<dimse::StoreScp> scp;

    explicit Listener(std::function<void(dimse::ScpSettings&)> adjust = {}) {
        dimse::ScpSettings s;
        s.ae_title = "DEIDGW";
        s.bind = "0.0.0.0";  // 127.0.0.2 reaches it too
        s.port = 0;
        s.receive_dir = dir.path();
        s.acse_timeout_seconds = 60;
        s.dimse_timeout_seconds = 60;
        s.log = log.sink();
        if (adjust) adjust(s);
        scp = std::make_unique<dimse::StoreScp>(s, handler);
        REQUIRE_FALSE(scp->start());
    }
    int port() const { return scp->port(); }
    std::vector<std::string> lines() const { return log.lines(); }
    std::string all_logs() const { return log.all(); }
};

// A TCP connection from 127.0.0.2.
asio::ip::tcp::socket connect_from_second_host(asio::io_context& io, int port) {
    asio::ip::tcp::socket s(io);
    s.open(asio::ip::tcp::v4());
    s.bind(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    return s;
}

// The normal sender: storescu of 20 instances from 127.0.0.1, which must all succeed within 10 s.
void normal_sender_gets_through(Listener& l) {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 20}};
    const auto files = testdata::write_study(src.path(), spec);
    REQUIRE(files.size() == 20);
    std::vector<std::string> argv = {"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(l.port())};
    for (const auto& f : files) argv.push_back(f.path);
    const int before = l.handler.stored;
    const auto start = std::chrono::steady_clock::now();
    const auto r = run(argv, 10s);  // killed (exit -1) if it takes longer
    const auto took = std::chrono::steady_clock::now() - start;
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(took < 10s);
    CHECK(l.handler.stored - before == 20);
}

}  // namespace

TEST_CASE("an A-ASSOCIATE-RQ announcing 100,000 bytes and sending 1,000 delays nobody") {
    Listener l;
    asio::io_context io;
    auto slow = connect_from_second_host(io, l.port());
    std::vector<unsigned char> pdu(1000, 0);
    pdu[0] = 0x01;  // A-ASSOCIATE-RQ
    const std::uint32_t length = 100000;
    pdu[2] = static_cast<unsigned char>(length >> 24);
    pdu[3] = static_cast<unsigned char>(length >> 16);
    pdu[4] = static_cast<unsigned char>(length >> 8);
    pdu[5] = static_cast<unsigned char>(length);
    pdu[6] = 0x00;
    pdu[7] = 0x01;  // protocol version
    asio::write(slow, asio::buffer(pdu));
    std::this_thread::sleep_for(200ms);  // DCMTK is reading the rest of it now
    normal_sender_gets_through(l);
    CHECK(l.scp->active_associations() >= 1);  // the slow request is still being read, on its own thread
}

TEST_CASE("100 connections from one host sending a byte a second starve nobody") {
    Listener l;
    asio::io_context io;
    std::vector<asio::ip::tcp::socket> attackers;
    for (int i = 0; i < 100; ++i) attackers.push_back(connect_from_second_host(io, l.port()));
    // The start of an A-ASSOCIATE-RQ announcing 64 KiB, then zeros, one byte a second each.
    const unsigned char header[] = {0x01, 0x00, 0x00, 0x01, 0x00, 0x00};
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
        for (std::size_t n = 0; !stop; ++n) {
            const unsigned char byte = n < sizeof header ? header[n] : 0;
            for (auto& s : attackers) {
                boost::system::error_code ec;
                asio::write(s, asio::buffer(&byte, 1), ec);  // the closed ones fail, that is fine
            }
            for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(100ms);
        }
    });
    REQUIRE(wait_until([&] { return l.scp->refusals(dimse::Refusal::connections_per_host) >= 60; }, 10s));
    normal_sender_gets_through(l);
    stop = true;
    trickle.join();
    // 40 (listen.limits.connections_per_host) were kept, the other 60 closed at once.
    CHECK(l.scp->refusals(dimse::Refusal::connections_per_host) == 60);
}

TEST_CASE("64 associations from one host sending a C-ECHO every few seconds starve nobody") {
    Listener l;
    testsupport::TempDir out;
    // The real attack sends a C-ECHO every 50 s; 2 s here, the same pattern, so it runs during the test.
    testsupport::Child flood({"env", std::string("LD_PRELOAD=") + DEID_SOURCE_SHIM, "DEID_SOURCE_ADDRESS=127.0.0.2",
                              DEID_ECHO_FLOOD, "127.0.0.1", std::to_string(l.port()), "FLOOD", "DEIDGW", "64", "2", "20"},
                             out / "flood.log");
    REQUIRE(wait_until([&] { return testsupport::read_file(out / "flood.log").find("opened") != std::string::npos; },
                       30s));
    const std::string opened = testsupport::read_file(out / "flood.log");
    INFO(opened);
    CHECK(opened.find("opened 32 refused 32") != std::string::npos);  // listen.limits.associations_per_host
    CHECK(l.scp->refusals(dimse::Refusal::associations_per_host) == 32);
    normal_sender_gets_through(l);
    CHECK(flood.running());  // the attack was still on
    CHECK(l.all_logs().find("associations from this host already running (listen.limits.associations_per_host)") !=
          std::string::npos);
}

TEST_CASE("1,000 refused connections write a bounded number of log lines and a summary") {
    std::atomic<int> observed{0};  // the metrics observer sees every refusal, logged or not
    Listener l([&](dimse::ScpSettings& s) {
        s.on_refused = [&](dimse::Refusal why) { observed += why == dimse::Refusal::connections_per_host; };
        s.limits.connections_per_host = 1;
        s.limits.refusal_log_burst = 20;
        s.limits.refusal_log_interval_seconds = 2;
    });
    asio::io_context io;
    auto held = connect_from_second_host(io, l.port());  // takes the one connection 127.0.0.2 may have
    REQUIRE(wait_until([&] { return l.scp->active_associations() == 1; }, 5s));
    constexpr int kRefused = 1000;
    for (int i = 0; i < kRefused; ++i) {
        auto s = connect_from_second_host(io, l.port());
        boost::system::error_code ec;
        s.close(ec);
    }
    REQUIRE(wait_until([&] { return l.scp->refusals(dimse::Refusal::connections_per_host) == kRefused; }, 30s));
    // Every refusal is either a line of its own or counted in a summary line.
    const std::regex summary(R"((\d+) more refusals in the last 2 s not logged one by one \(.*connections_per_host (\d+)\))");
    auto tally = [&](int& single, int& summarised) {
        single = summarised = 0;
        for (const auto& line : l.lines()) {
            std::smatch m;
            if (std::regex_search(line, m, summary)) summarised += std::stoi(m[2]);
            else if (line.find("(listen.limits.connections_per_host)") != std::string::npos) ++single;
        }
    };
    int single = 0, summarised = 0;
    REQUIRE(wait_until([&] { tally(single, summarised); return single + summarised == kRefused; }, 10s));
    INFO("single " << single << ", summarised " << summarised);
    CHECK(single <= 20 * 6);  // at most `burst` per 2-s interval; the 1,000 arrive within a few
    CHECK(summarised >= kRefused - 20 * 6);
    CHECK(l.lines().size() < 150);
    CHECK(observed == kRefused);
}

TEST_CASE("control characters in a calling AE title are escaped in the log line, which names it and the address") {
    Listener l([](dimse::ScpSettings& s) { s.allowed_calling_ae = {"MOD"}; });
    testdata::HeldAssociation forged("127.0.0.1", l.port(), "EVIL\nINFO X", "DEIDGW");
    CHECK_FALSE(forged.open());
    REQUIRE(wait_until([&] { return l.scp->refusals(dimse::Refusal::calling_ae_not_recognized) == 1; }, 10s));
    const std::string logs = l.all_logs();
    INFO(logs);
    CHECK(logs.find("from 127.0.0.1 calling AE 'EVIL\\x0aINFO X'") != std::string::npos);
    for (const auto& line : l.lines()) CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("known callers: an AE title from a host not allowed for it is rejected as not recognized") {
    Listener l([](dimse::ScpSettings& s) {
        s.known_callers = {{"MOD", "127.0.0.1", ""}, {"REMOTE", "10.0.0.0/8", ""}};
    });
    const std::string port = std::to_string(l.port());
    auto r = run({"echoscu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", port}, 20s);
    CHECK(r.exit_code == 0);
    r = run({"echoscu", "-aet", "REMOTE", "-aec", "DEIDGW", "127.0.0.1", port}, 20s);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("Calling AE Title Not Recognized") != std::string::npos);
    r = run({"env", std::string("LD_PRELOAD=") + DEID_SOURCE_SHIM, "DEID_SOURCE_ADDRESS=127.0.0.2", "echoscu", "-aet",
             "MOD", "-aec", "DEIDGW", "127.0.0.1", port}, 20s);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("Calling AE Title Not Recognized") != std::string::npos);
    r = run({"echoscu", "-aet", "STRANGER", "-aec", "DEIDGW", "127.0.0.1", port}, 20s);
    CHECK(r.exit_code != 0);
    const std::string logs = l.all_logs();
    INFO(logs);
    CHECK(logs.find("from 127.0.0.1 calling AE 'REMOTE' called AE 'DEIDGW': refused: calling AE title not recognized: "
                    "address not allowed") != std::string::npos);
    CHECK(logs.find("from 127.0.0.2 calling AE 'MOD' called AE 'DEIDGW': refused: calling AE title not recognized: "
                    "address not allowed") != std::string::npos);
    CHECK(logs.find("calling AE 'STRANGER' called AE 'DEIDGW': refused: calling AE title not recognized: calling AE "
                    "title not among listen.known_callers") != std::string::npos);
    CHECK(l.scp->refusals(dimse::Refusal::calling_ae_not_recognized) == 3);
}
