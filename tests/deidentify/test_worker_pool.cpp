// The worker pool's retry: while the pseudonym source is unavailable, an instance stays in
// incoming/ and is tried again with backoff; once it answers, the output is published for its
// destination. Real spool, real de-identification engine, an in-memory keyed pseudonym source.
#include "deidentify/WorkerPool.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "tests/dimse/TestInstances.h"
#include "tests/support/MemoryPseudonymSource.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testsupport::wait_until;

namespace {
// Answers through one shared keyed source, or throws PseudonymUnavailable while `down` is set.
class GatedSource : public deid::PseudonymSource {
public:
    GatedSource(testsupport::MemoryPseudonymSource& source, std::atomic<bool>& down, std::atomic<int>& refused)
        : source_(source), down_(down), refused_(refused) {}
    deid::PseudonymReply resolve(const deid::PseudonymRequest& request) override {
        if (down_) {
            ++refused_;
            throw deid::PseudonymUnavailable("the broker does not answer");
        }
        return source_.resolve(request);
    }

private:
    testsupport::MemoryPseudonymSource& source_;
    std::atomic<bool>& down_;
    std::atomic<int>& refused_;
};

}  // namespace

TEST_CASE("while the pseudonym source is down an instance stays in incoming and is retried, then it is published") {
    testsupport::TempDir dir;
    config::Config cfg;
    cfg.workers = 1;
    cfg.retry = config::Retry{100, 400, 5};
    config::Destination out;
    out.name = "out";
    out.directory = dir / "out";
    cfg.destinations = {out};
    spool::Spool spool(dir / "spool", cfg.spool);
    REQUIRE_FALSE(spool.prepare({"out"}));
    std::mutex mutex;
    std::vector<spool::InstanceRecord> published;
    spool.on_outgoing("out", [&](spool::InstanceRecord r) {
        std::lock_guard<std::mutex> lock(mutex);
        published.push_back(std::move(r));
    });

    testsupport::MemoryPseudonymSource keyed;
    std::atomic<bool> down{true};
    std::atomic<int> refused{0};
    boost::asio::io_context timers;
    auto work = boost::asio::make_work_guard(timers);
    std::thread timer_thread([&] { timers.run(); });
    spool::Router router(cfg.destinations);
    {
        deidentify::WorkerPool pool(cfg, spool, router,
                                    [&] { return std::make_unique<GatedSource>(keyed, down, refused); }, timers);
        // One received instance, admitted as the reception does.
        testdata::StudySpec spec;
        const auto written = testdata::write_study(dir / "src", spec);
        const std::string received = spool.tmp_dir() + "/1.part";
        fs::copy_file(written.at(0).path, received);
        spool::InstanceRecord record;
        record.id = spool.new_id();
        record.calling_ae = "MOD";
        REQUIRE_FALSE(spool.admit(record.without_data(), received, fs::file_size(received)));

        REQUIRE(wait_until([&] { return refused >= 2; }, 20s));  // tried, and tried again
        CHECK(spool.has_incoming(record));
        CHECK(spool.list_outgoing("out").empty());
        {
            std::lock_guard<std::mutex> lock(mutex);
            CHECK(published.empty());
        }
        down = false;
        REQUIRE(wait_until([&] {
            std::lock_guard<std::mutex> lock(mutex);
            return !published.empty();
        }, 20s));
        CHECK(spool.list_outgoing("out") == std::vector<std::string>{record.id});
        CHECK(spool.has_incoming(record));  // until the destination is done
        spool.delivered("out", record.id);
        CHECK_FALSE(spool.has_incoming(record));
        CHECK(spool.in_flight() == 0);
        pool.stop();
    }
    work.reset();
    timers.stop();
    timer_thread.join();
}
