// The forwarder against real loopback peers: a folder, and a port whose listener never accepts (a
// peer that serves one association at a time and is busy); and an output in memory on a full disk.
#include "forward/Forwarder.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <mutex>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "forward/DicomSender.h"
#include "forward/FolderSender.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/FileSizeLimit.h"
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


// What the process writes on stderr (the gateway's log), read through a pipe: a pipe, unlike a
// file, is not cut by RLIMIT_FSIZE.
struct StderrCapture {
    int saved = -1;
    int pipe_fds[2] = {-1, -1};
    std::thread reader;
    mutable std::mutex mutex;
    std::string text;
    StderrCapture() {
        REQUIRE(::pipe(pipe_fds) == 0);
        std::fflush(stderr);
        saved = ::dup(STDERR_FILENO);
        ::dup2(pipe_fds[1], STDERR_FILENO);
        ::close(pipe_fds[1]);
        reader = std::thread([this] {
            char buf[4096];
            for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
                std::lock_guard<std::mutex> lock(mutex);
                text.append(buf, static_cast<std::size_t>(n));
            }
        });
    }
    ~StderrCapture() {
        std::fflush(stderr);
        ::dup2(saved, STDERR_FILENO);  // the pipe's last writer gone: the reader ends
        ::close(saved);
        reader.join();
        ::close(pipe_fds[0]);
    }
    bool has(const std::string& needle) const {
        std::lock_guard<std::mutex> lock(mutex);
        return text.find(needle) != std::string::npos;
    }
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

TEST_CASE("an output in memory that cannot be written on a full disk stays in memory through a failed send and is delivered") {
    Fixture f;
    testdata::StudySpec spec;
    spec.rows = spec.columns = 64;  // 8 KiB of pixel data: larger than the disk's room below
    const auto written = testdata::write_study(f.dir / "src", spec);
    REQUIRE_FALSE(written.empty());
    spool::InstanceRecord record;
    record.id = f.spool.new_id();
    auto parsed = std::make_unique<DcmFileFormat>();
    REQUIRE(parsed->loadFile(written[0].path.c_str()).good());
    const std::string bytes = testsupport::read_file(written[0].path);
    REQUIRE(bytes.size() > 4096);
    record.parsed = spool::ParsedInstance(std::move(parsed), "1.2.840.10008.1.2.1", nullptr);
    record.parsed.encoded = bytes;
    // The destination folder cannot be made (a file holds its name): every send fails.
    const fs::path out = f.dir / "out";
    std::ofstream(out.string()) << "in the way";
    StderrCapture log;
    forward::Forwarder forwarder("peer", 1, config::Retry{50, 200, 3}, f.spool,
                                 [&](int) { return std::make_unique<forward::FolderSender>(out); });
    forwarder.start();
    {
        testsupport::FileSizeLimit full(1024);
        // Queued while the peer has not taken anything yet: the output would be written into
        // outgoing/peer/, the write fails, the bytes stay in memory; the send fails, the write for
        // its retry fails too, and it is kept in memory again.
        forwarder.enqueue(std::move(record));
        REQUIRE(wait_until([&] { return log.has("cannot write its output for a retry"); }, 20s));
        CHECK(log.has("kept in memory, retry in"));
        CHECK(f.spool.list_outgoing("peer").empty());
        CHECK(f.spool.quarantined().empty());
        CHECK(forwarder.depth() == 1);
    }
    fs::remove(out);  // the disk has room again and the folder can be made
    std::string delivered;
    REQUIRE(wait_until([&] {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(out, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            if (it->is_regular_file() && it->path().extension() == ".dcm") delivered = it->path().string();
        return !delivered.empty() && forwarder.depth() == 0;
    }, 20s));
    CHECK(testsupport::read_file(delivered) == bytes);  // the bytes held in memory, whole
    CHECK(f.spool.quarantined().empty());
    forwarder.stop();
}
