// The forwarder against real loopback peers: a folder, and a port whose listener never accepts (a
// peer that serves one association at a time and is busy).
#include "forward/Forwarder.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "forward/DicomSender.h"
#include "forward/FolderSender.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testsupport::wait_until;

namespace {
// A TCP listener on 127.0.0.1 that never accepts: the kernel completes connections into its
// backlog, nobody reads the association request (a busy single-association peer).
struct SilentListener {
    int fd = -1;
    int port = 0;
    SilentListener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd, 16) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~SilentListener() { ::close(fd); }
};


struct Fixture {
    testsupport::TempDir dir;
    spool::Spool spool{dir / "spool", config::Spool{}};
    std::vector<testdata::Written> written;
    Fixture() { REQUIRE_FALSE(spool.prepare({"peer"})); }
    // `n` de-identified instances waiting in outgoing/peer/.
    void queue(int n) {
        testdata::StudySpec spec;
        spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", n}};
        written = testdata::write_study(dir / "src", spec);
        for (auto& w : written) REQUIRE_FALSE(spool.add_outgoing(w.path, "peer", spool.new_id()));
    }
};
}  // namespace

TEST_CASE("a folder destination delivers, and reports each instance to the spool") {
    Fixture f;
    f.queue(3);
    forward::Forwarder forwarder("peer", 2, config::Retry{100, 800, 3}, f.spool,
                                 [&](int) { return std::make_unique<forward::FolderSender>(f.dir / "out"); });
    forwarder.start();
    f.spool.sweep();
    REQUIRE(wait_until([&] { return f.spool.list_outgoing("peer").empty() && forwarder.depth() == 0; }, 20s));
    std::size_t files = 0;
    for (auto& e : fs::recursive_directory_iterator(f.dir / "out"))
        if (e.is_regular_file()) ++files;
    CHECK(files == 3);
    CHECK(forwarder.outages() == 0);
    forwarder.stop();
}

TEST_CASE("extra associations a peer does not accept promptly cap the count instead of pausing the destination") {
    Fixture f;
    f.queue(40);
    SilentListener busy;
    config::Config cfg;
    cfg.listen.acse_timeout_seconds = 30;
    config::Destination d;
    d.name = "peer";
    d.ae_title = "PEER";
    d.host = "127.0.0.1";
    d.port = busy.port;
    // Sender 0 is taken to be connected: a folder (always there); extra ones go to the busy peer.
    forward::Forwarder forwarder("peer", 3, config::Retry{1000, 60000, 5}, f.spool, [&](int index) -> std::unique_ptr<forward::Sender> {
        if (index == 0) return std::make_unique<forward::FolderSender>(f.dir / "out");
        return std::make_unique<forward::DicomSender>(d, cfg, forward::Forwarder::kPromptSeconds);
    });
    forwarder.start();
    f.spool.sweep();
    REQUIRE(wait_until([&] { return f.spool.list_outgoing("peer").empty() && forwarder.depth() == 0; }, 30s));
    CHECK(forwarder.unreachable_attempts() >= 1);  // an extra association was tried
    CHECK(forwarder.outages() == 0);               // and the destination never paused
    CHECK(forwarder.associations_allowed() == 1);
    CHECK(f.spool.quarantined().empty());
    forwarder.stop();
}
