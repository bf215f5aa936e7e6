// Receptions held by their journal record alone (received into memory, no incoming/ file): the
// record is the only copy, so everything that needs a file gets one written from it, byte for byte,
// and nothing held is ever lost: not by a crash, not by its region being checkpointed and written
// again while receptions go on, not when the journal has no room.
#include "spool/Spool.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tests/support/Process.h"

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kJournalBytes = 4u << 20;  // four regions of 1 MiB: records up to 256 KiB

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

config::Spool with_journal(std::uint64_t bytes = kJournalBytes) {
    config::Spool limits;
    limits.journal_bytes = bytes;
    return limits;
}

// Admits `bytes` as the SCP hands over a data set received into memory.
spool::InstanceRecord admit_held(spool::Spool& s, const std::string& bytes, const std::string& ae = "MOD") {
    spool::InstanceRecord r;
    r.id = s.new_id();
    r.calling_ae = ae;
    const std::string part = s.tmp_dir() + "/" + r.id + ".part";
    REQUIRE_FALSE(s.admit(r.without_data(), part, bytes.size(), -1, &bytes));
    CHECK_FALSE(fs::exists(part));
    return r;
}

std::size_t files_in(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
    return n;
}

}  // namespace

TEST_CASE("held reception: Success with its journal record alone, no file, a stage that needs the file gets it byte for byte") {
    testsupport::TempDir dir;
    spool::Spool s(dir / "spool", with_journal());
    REQUIRE_FALSE(s.prepare({"pacs"}));
    const std::string bytes = random_bytes(9000, 1);
    const auto r = admit_held(s, bytes, std::string("\xff\x01 MOD", 6));  // any octets in the AE title
    CHECK(s.durable_by_journal() == 1);
    CHECK(s.journal()->syncs() >= 1);
    CHECK(files_in(s.incoming_dir()) == 0);
    CHECK(s.has_incoming(r));
    REQUIRE(s.list_incoming().size() == 1);
    CHECK(s.list_incoming()[0].id == r.id);
    CHECK(s.list_incoming()[0].calling_ae == r.calling_ae);
    CHECK(s.bytes_held() == bytes.size());

    REQUIRE_FALSE(s.make_incoming_file(r));
    CHECK(testsupport::read_file(s.incoming_path(r)) == bytes);
    CHECK(s.incoming_files_made() == 1);
    REQUIRE_FALSE(s.make_incoming_file(r));  // once only
    CHECK(s.incoming_files_made() == 1);
    CHECK(s.list_incoming().size() == 1);  // not twice
    s.remove_incoming(r);
    CHECK_FALSE(s.has_incoming(r));
    CHECK(s.list_incoming().empty());
    CHECK(s.bytes_held() == 0);
}

TEST_CASE("held reception: finished without ever having a file, quarantined with its bytes, after a crash written from the journal") {
    testsupport::TempDir dir;
    std::vector<spool::InstanceRecord> records;
    std::vector<std::string> bytes;
    {
        spool::Spool first(dir / "spool", with_journal());
        REQUIRE_FALSE(first.prepare({"pacs"}));
        for (int i = 0; i < 4; ++i) {
            bytes.push_back(random_bytes(5000 + 700 * i, 10 + i));
            records.push_back(admit_held(first, bytes.back()));
        }
        first.remove_incoming(records[0]);  // delivered: never had a file
        CHECK_FALSE(first.has_incoming(records[0]));
        spool::QuarantineRecord q;
        q.id = records[1].id;
        q.reason = "deidentification-failed";
        q.stage = spool::Stage::deidentify;
        REQUIRE_FALSE(first.quarantine_incoming(records[1], q));
        const auto quarantined = first.find_quarantined(records[1].id);
        REQUIRE(quarantined.size() == 1);
        CHECK(testsupport::read_file(quarantined[0].folder + "/instance.dcm") == bytes[1]);
        CHECK(first.bytes_held() == bytes[2].size() + bytes[3].size());
        CHECK(files_in(first.incoming_dir()) == 0);
        // The process is killed here: records 2 and 3 exist only in the journal.
    }
    spool::Spool second(dir / "spool", with_journal());
    REQUIRE_FALSE(second.prepare({"pacs"}));
    CHECK(second.journal_restored() == 2);
    CHECK_FALSE(fs::exists(second.incoming_path(records[0])));
    CHECK_FALSE(fs::exists(second.incoming_path(records[1])));
    CHECK(testsupport::read_file(second.incoming_path(records[2])) == bytes[2]);
    CHECK(testsupport::read_file(second.incoming_path(records[3])) == bytes[3]);
    CHECK(second.list_incoming().size() == 2);
}

TEST_CASE("held reception: without room in the journal the bytes become a file of their own, synced, as before") {
    testsupport::TempDir dir;
    SECTION("no journal (spool.journal_bytes 0)") {
        spool::Spool s(dir / "spool", with_journal(0));
        REQUIRE_FALSE(s.prepare({"pacs"}));
        const std::string bytes = random_bytes(3000, 2);
        const auto r = admit_held(s, bytes);
        CHECK(s.durable_by_file() == 1);
        CHECK(testsupport::read_file(s.incoming_path(r)) == bytes);
    }
    SECTION("larger than a record") {
        spool::Spool s(dir / "spool", with_journal());
        REQUIRE_FALSE(s.prepare({"pacs"}));
        const std::string bytes = random_bytes(s.journal()->max_record_bytes() + 1, 3);
        const auto r = admit_held(s, bytes);
        CHECK(s.durable_by_file() == 1);
        CHECK(s.durable_by_journal() == 0);
        CHECK(testsupport::read_file(s.incoming_path(r)) == bytes);
    }
}

TEST_CASE("held reception: a stuck output written to outgoing/ gets its original written to incoming/ too") {
    testsupport::TempDir dir;
    spool::Spool s(dir / "spool", with_journal());
    REQUIRE_FALSE(s.prepare({"pacs"}));
    const std::string bytes = random_bytes(4000, 4);
    const auto r = admit_held(s, bytes);
    REQUIRE_FALSE(s.write_outgoing("pacs", r.id, "de-identified"));
    CHECK(testsupport::read_file(s.incoming_path(r)) == bytes);
    CHECK(testsupport::read_file(s.outgoing_path("pacs", r.id)) == "de-identified");
}

TEST_CASE("held reception: receptions going on while full regions are checkpointed lose nothing held, byte for byte, also after a crash") {
    // Four regions of 1 MiB and records of about 60 KiB: a region fills every ~16 receptions and
    // is written again after its checkpoint, so a held instance survives only if its file was
    // written before its record could be overwritten. Four threads at once, as associations do.
    testsupport::TempDir dir;
    std::map<std::string, std::string> held;  // id -> bytes, none finished
    std::map<std::string, spool::InstanceRecord> records;
    std::mutex mutex;
    {
        spool::Spool s(dir / "spool", with_journal());
        REQUIRE_FALSE(s.prepare({"pacs"}));
        std::vector<std::thread> threads;
        std::atomic<int> failures{0};
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int i = 0; i < 40; ++i) {
                    const std::string bytes = random_bytes(60000 + 37 * i + t, static_cast<unsigned>(100 * t + i));
                    spool::InstanceRecord r;
                    r.id = s.new_id();
                    r.calling_ae = "MOD" + std::to_string(t);
                    const std::string part = s.tmp_dir() + "/" + r.id + ".part";
                    if (s.admit(r.without_data(), part, bytes.size(), -1, &bytes)) {
                        ++failures;
                        continue;
                    }
                    std::lock_guard<std::mutex> lock(mutex);
                    held[r.id] = bytes;
                    records[r.id] = r.without_data();
                }
            });
        for (auto& th : threads) th.join();
        REQUIRE(failures == 0);
        REQUIRE(held.size() == 160);
        INFO("checkpoints " << s.journal()->checkpoints() << ", files written " << s.incoming_files_made());
        CHECK(s.journal()->checkpoints() >= 4);  // every region was written again at least once
        CHECK(s.incoming_files_made() > 0);
        // Whatever was checkpointed has its file, byte for byte; the rest is still held.
        std::size_t with_file = 0;
        for (const auto& [id, bytes] : held) {
            const auto& r = records[id];
            CHECK(s.has_incoming(r));
            if (fs::exists(s.incoming_path(r))) {
                ++with_file;
                CHECK(testsupport::read_file(s.incoming_path(r)) == bytes);
            }
        }
        CHECK(with_file == s.incoming_files_made());
        CHECK(s.list_incoming().size() == 160);
        // Killed here.
    }
    spool::Spool after(dir / "spool", with_journal());
    REQUIRE_FALSE(after.prepare({"pacs"}));
    REQUIRE(after.list_incoming().size() == 160);
    for (const auto& [id, bytes] : held) CHECK(testsupport::read_file(after.incoming_path(records[id])) == bytes);
}

TEST_CASE("held reception: a file that cannot be written keeps its region from being written again until it can, and nothing is lost") {
    testsupport::TempDir dir;
    spool::Spool s(dir / "spool", with_journal());
    REQUIRE_FALSE(s.prepare({"pacs"}));
    const std::string first_bytes = random_bytes(60000, 7);
    const auto first = admit_held(s, first_bytes);
    // Its file cannot be made: a directory stands where it goes (as a full disk or a failing write would).
    fs::create_directories(s.incoming_path(first));
    REQUIRE(s.make_incoming_file(first));  // an error, and it stays held
    CHECK(s.has_incoming(first));
    // The first region fills: its checkpoint must write that file first, and fails; receptions go on.
    for (int i = 0; i < 20; ++i) admit_held(s, random_bytes(60000, 100 + i));
    REQUIRE(testsupport::wait_until([&] { return s.journal()->checkpoint_failures() >= 1; }, std::chrono::seconds(10)));
    CHECK(s.journal()->checkpoints() == 0);
    CHECK(s.incoming_files_made() == 0);
    // Room again: the next try writes the file and lets the region go.
    fs::remove(s.incoming_path(first));
    REQUIRE(testsupport::wait_until([&] { return s.journal()->checkpoints() >= 1; }, std::chrono::seconds(10)));
    CHECK(testsupport::read_file(s.incoming_path(first)) == first_bytes);
    CHECK(s.list_incoming().size() == 21);
}
