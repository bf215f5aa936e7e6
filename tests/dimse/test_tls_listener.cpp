// The TLS listener (issue 14) with real peers on loopback: DCMTK storescu/echoscu +tls and
// openssl s_client against StoreScp's TLS port, certificates from tests/support/make-test-pki.sh.
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
#include <thread>

#include "dimse/DimseError.h"
#include "dimse/DimseStatus.h"
#include "dimse/Tls.h"
#include "tests/dimse/ListenerSupport.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using testsupport::run;
namespace asio = boost::asio;

using testsupport::wait_until;

namespace {

// One test PKI for the whole run (making keys costs a few seconds on a loaded machine).
const std::string& pki() {
    static testsupport::TempDir dir;
    static const bool made = [] {
        const auto r = run({std::string(DEID_SOURCE_DIR) + "/tests/support/make-test-pki.sh", dir.path()}, 120s);
        return r.exit_code == 0;
    }();
    REQUIRE(made);
    return dir.path();
}
std::string p(const std::string& name) { return pki() + "/" + name; }

using listenertest::CountingHandler;

struct TlsListener {
    testsupport::TempDir dir;
    CountingHandler handler;
    listenertest::LogLines log;
    std::unique_ptr<dimse::StoreScp> scp;
    std::error_code started;

    explicit TlsListener(std::function<void(dimse::ScpSettings&, dimse::TlsSettings&)> adjust = {}) {
        dimse::ScpSettings s;
        s.ae_title = "DEIDGW";
        s.bind = "127.0.0.1";
        s.port = 0;
        s.tls_port = 0;
        s.receive_dir = dir.path();
        s.acse_timeout_seconds = 60;
        s.log = log.sink();
        auto tls = std::make_shared<dimse::TlsSettings>();
        tls->certificate = p("server.crt");
        tls->private_key = p("server.key");
        tls->trusted_certificates = p("ca.crt");
        tls->verify_peer = true;
        if (adjust) adjust(s, *tls);
        s.tls = tls;
        scp = std::make_unique<dimse::StoreScp>(s, handler);
        started = scp->start();
    }
    std::string tls_port() const { return std::to_string(scp->tls_port()); }
    std::string all_logs() const { return log.all(); }
};

std::vector<std::string> study(const testsupport::TempDir& src, int count) {
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", count}};
    std::vector<std::string> paths;
    for (const auto& w : testdata::write_study(src.path(), spec)) paths.push_back(w.path);
    return paths;
}

testsupport::RunResult storescu_tls(const TlsListener& l, const std::string& key, const std::string& crt,
                                    const std::vector<std::string>& files, const std::string& calling = "MOD",
                                    std::chrono::seconds limit = 30s) {
    std::vector<std::string> argv = {"storescu", "+tls", key, crt, "+cf", p("ca.crt"), "-aet", calling, "-aec", "DEIDGW",
                                     "127.0.0.1", l.tls_port()};
    argv.insert(argv.end(), files.begin(), files.end());
    return run(argv, limit);
}

}  // namespace

TEST_CASE("storescu +tls with a client certificate stores over TLS while the plain port stays open") {
    TlsListener l;
    REQUIRE_FALSE(l.started);
    testsupport::TempDir src;
    const auto files = study(src, 3);
    auto r = storescu_tls(l, p("client.key"), p("client.crt"), files);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(l.handler.stored == 3);
    r = run({"echoscu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(l.scp->port())}, 20s);
    CHECK(r.exit_code == 0);
    CHECK(l.all_logs().find("(TLS) calling AE 'MOD' called AE 'DEIDGW': accepted") != std::string::npos);
}

TEST_CASE("refused in the TLS handshake, logged, nothing stored: plain client, other CA, expired, no certificate") {
    TlsListener l;
    REQUIRE_FALSE(l.started);
    testsupport::TempDir src;
    const auto files = study(src, 1);
    std::uint64_t expected = 0;
    auto refused_once_more = [&] {
        ++expected;
        return wait_until([&] { return l.scp->refusals(dimse::Refusal::tls_handshake) == expected; }, 10s);
    };
    // A plain client on the TLS port.
    auto r = run({"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", l.tls_port(), files[0]}, 30s);
    CHECK(r.exit_code != 0);
    CHECK(refused_once_more());
    // A client certificate from another CA.
    r = storescu_tls(l, p("other-client.key"), p("other-client.crt"), files);
    CHECK(r.exit_code != 0);
    CHECK(refused_once_more());
    // An expired client certificate.
    r = storescu_tls(l, p("expired.key"), p("expired.crt"), files);
    CHECK(r.exit_code != 0);
    CHECK(refused_once_more());
    // No client certificate at all (anonymous TLS).
    r = run({"storescu", "+tla", "+cf", p("ca.crt"), "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", l.tls_port(), files[0]},
            30s);
    CHECK(r.exit_code != 0);
    CHECK(refused_once_more());
    CHECK(l.handler.stored == 0);
    const std::string logs = l.all_logs();
    INFO(logs);
    CHECK(logs.find("from 127.0.0.1: TLS handshake failed") != std::string::npos);
}

TEST_CASE("TLS 1.0 and 1.1 clients are refused in the handshake and 1.2 gets through") {
    TlsListener l;
    REQUIRE_FALSE(l.started);
    const std::string target = "127.0.0.1:" + l.tls_port();
    std::uint64_t before = l.scp->refusals(dimse::Refusal::tls_handshake);
    for (const std::string version : {"-tls1", "-tls1_1"}) {
        // SECLEVEL=0 so that the client itself is willing to speak the old version.
        const auto r = run({"openssl", "s_client", version, "-cipher", "DEFAULT@SECLEVEL=0", "-connect", target, "-cert",
                            p("client.crt"), "-key", p("client.key"), "-CAfile", p("ca.crt")}, 20s, "");
        INFO(version << ": " << r.output);
        CHECK(r.output.find("alert protocol version") != std::string::npos);  // the server's answer
        CHECK(r.output.find("Cipher is (NONE)") != std::string::npos);        // no session was established
        CHECK(wait_until([&] { return l.scp->refusals(dimse::Refusal::tls_handshake) == before + 1; }, 10s));
        before = l.scp->refusals(dimse::Refusal::tls_handshake);
    }
    const auto r = run({"openssl", "s_client", "-tls1_2", "-connect", target, "-cert", p("client.crt"), "-key",
                        p("client.key"), "-CAfile", p("ca.crt")}, 20s, "");
    INFO(r.output);
    CHECK(r.output.find("Verify return code: 0 (ok)") != std::string::npos);
    CHECK(r.output.find("TLSv1.2") != std::string::npos);
}

TEST_CASE("a known caller bound to a certificate subject: the right certificate passes, another is not recognized") {
    TlsListener l([](dimse::ScpSettings& s, dimse::TlsSettings&) {
        s.known_callers = {{"MOD", "127.0.0.1", "CN=test-client"}, {"OTHER", "127.0.0.1", "CN=someone-else"}};
    });
    REQUIRE_FALSE(l.started);
    testsupport::TempDir src;
    const auto files = study(src, 1);
    auto r = storescu_tls(l, p("client.key"), p("client.crt"), files, "MOD");
    INFO(r.output);
    CHECK(r.exit_code == 0);
    r = storescu_tls(l, p("client.key"), p("client.crt"), files, "OTHER");
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("Calling AE Title Not Recognized") != std::string::npos);
    CHECK(l.handler.stored == 1);
    const std::string logs = l.all_logs();
    INFO(logs);
    CHECK(logs.find("calling AE 'OTHER' called AE 'DEIDGW' certificate 'CN=test-client': refused: calling AE title not "
                    "recognized: client certificate subject not allowed") != std::string::npos);
}

TEST_CASE("a TLS client that stalls in its handshake delays nobody") {
    TlsListener l;
    REQUIRE_FALSE(l.started);
    asio::io_context io;
    asio::ip::tcp::socket stalled(io);
    stalled.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                            static_cast<unsigned short>(l.scp->tls_port())));
    // The first bytes of a TLS record header (handshake, TLS 1.2, 512 bytes), then nothing.
    const unsigned char partial[] = {0x16, 0x03, 0x03, 0x02, 0x00, 0x01};
    asio::write(stalled, asio::buffer(partial));
    std::this_thread::sleep_for(200ms);  // the server is inside SSL_accept now
    testsupport::TempDir src;
    const auto files = study(src, 20);
    const auto start = std::chrono::steady_clock::now();
    const auto r = storescu_tls(l, p("client.key"), p("client.crt"), files, "MOD", 10s);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    CHECK(l.handler.stored == 20);
    CHECK(l.scp->active_associations() >= 1);  // the stalled handshake still waits, on its own thread
}

TEST_CASE("an expired server certificate or a key readable by others refuses the start, naming the file") {
    TlsListener expired([](dimse::ScpSettings&, dimse::TlsSettings& t) {
        t.certificate = p("expired.crt");
        t.private_key = p("expired.key");
    });
    CHECK(expired.started == dimse::DimseError::tls_setup_failed);
    CHECK(expired.scp->tls_error().find(p("expired.crt")) != std::string::npos);
    testsupport::TempDir dir;
    std::filesystem::copy_file(p("server.key"), dir / "open.key");
    std::filesystem::permissions(dir / "open.key", std::filesystem::perms(0644));
    TlsListener open_key([&](dimse::ScpSettings&, dimse::TlsSettings& t) { t.private_key = dir / "open.key"; });
    CHECK(open_key.started == dimse::DimseError::tls_setup_failed);
    CHECK(open_key.scp->tls_error().find(dir / "open.key") != std::string::npos);
    CHECK_FALSE(open_key.scp->accepting());
}

TEST_CASE("TLS only: no plain port is opened and TLS callers are served") {
    TlsListener l([](dimse::ScpSettings& s, dimse::TlsSettings&) { s.port = -1; });
    REQUIRE_FALSE(l.started);
    CHECK(l.scp->port() == 0);
    REQUIRE(l.scp->tls_port() > 0);
    testsupport::TempDir src;
    const auto r = storescu_tls(l, p("client.key"), p("client.crt"), study(src, 2));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(l.handler.stored == 2);
}
