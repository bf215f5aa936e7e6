// The reception journal: what it gives back after a crash is exactly what was answered durable and
// not finished: whole records, oldest first, never a torn one, never one of a checkpointed region.
#include "spool/ReceptionJournal.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "spool/Spool.h"
#include "tests/support/FileSizeLimit.h"
#include "tests/support/Process.h"

namespace fs = std::filesystem;
using spool::ReceptionJournal;

namespace {

constexpr std::uint64_t kJournalBytes = 4u << 20;  // four regions of 1 MiB
constexpr std::uint64_t kRegionBytes = kJournalBytes / ReceptionJournal::kRegions;

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

// A received file, open as the SCP hands it to the spool.
struct Received {
    std::string path;
    int fd = -1;
    Received(const std::string& p, const std::string& bytes) : path(p) {
        testsupport::write_file(path, bytes);
        fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
    }
    ~Received() { ::close(fd); }
};

ReceptionJournal::Place append(ReceptionJournal& journal, const std::string& dir, const std::string& id,
                               const std::string& ae, const std::string& bytes) {
    Received file(dir + "/" + id + ".part", bytes);
    ReceptionJournal::Place place;
    std::error_code ec;
    REQUIRE(journal.append(id, ae, file.fd, bytes.size(), place, ec) == ReceptionJournal::Append::durable);
    return place;
}

std::vector<ReceptionJournal::Record> reopen(const std::string& dir) {
    ReceptionJournal journal(dir, kJournalBytes);
    std::vector<ReceptionJournal::Record> pending;
    REQUIRE_FALSE(journal.open(pending));
    return pending;
}

// Overwrites `bytes` at `offset` of the journal file, as a crash in the middle of a write leaves it.
void damage(const std::string& file, std::uint64_t offset, const std::string& bytes) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes.size()));
    ::close(fd);
}

std::uint64_t offset_of(const ReceptionJournal::Place& place) {
    return place.region * kRegionBytes + std::uint64_t{place.slot} * ReceptionJournal::kBlock;
}

}  // namespace

TEST_CASE("journal: records answered durable come back after a crash, oldest first and byte for byte, and finished ones do not") {
    testsupport::TempDir dir;
    const std::string jdir = dir / "journal";
    const std::string a = random_bytes(100, 1), b = random_bytes(5000, 2), c = random_bytes(70000, 3);
    {
        ReceptionJournal journal(jdir, kJournalBytes);
        std::vector<ReceptionJournal::Record> pending;
        REQUIRE_FALSE(journal.open(pending));
        CHECK(pending.empty());
        REQUIRE_FALSE(journal.start());
        append(journal, dir.path(), "1-a", std::string("MOD\x01\xff", 5), a);
        const auto finished = append(journal, dir.path(), "2-b", "MOD", b);
        append(journal, dir.path(), "3-c", "", c);
        journal.done(finished, false);
        CHECK(journal.syncs() >= 3);
    }  // as after a kill -9: what was written is in the file, nothing else happened
    const auto pending = reopen(jdir);
    REQUIRE(pending.size() == 2);
    CHECK(pending[0].id == "1-a");
    CHECK(pending[0].calling_ae == std::string("MOD\x01\xff", 5));
    CHECK(pending[0].data == a);
    CHECK(pending[1].id == "3-c");
    CHECK(pending[1].calling_ae.empty());
    CHECK(pending[1].data == c);
}

TEST_CASE("journal: a torn or never written record is skipped and the records after it are still found") {
    testsupport::TempDir dir;
    const std::string jdir = dir / "journal";
    std::vector<std::string> data;
    std::vector<ReceptionJournal::Place> places;
    std::string file;
    {
        ReceptionJournal journal(jdir, kJournalBytes);
        std::vector<ReceptionJournal::Record> pending;
        REQUIRE_FALSE(journal.open(pending));
        REQUIRE_FALSE(journal.start());
        file = journal.path();
        for (int i = 0; i < 5; ++i) {
            data.push_back(random_bytes(3000 + 700 * i, 10 + i));
            places.push_back(append(journal, dir.path(), std::to_string(i), "AE", data.back()));
        }
    }
    damage(file, offset_of(places[1]), std::string(40, '\0'));        // its header never reached the disk
    damage(file, offset_of(places[2]) + 40 + 1000, "torn");           // half of its body did not
    damage(file, offset_of(places[3]) + 16, std::string("\x7f\x7f", 2));  // its header is torn (length)
    const auto pending = reopen(jdir);
    REQUIRE(pending.size() == 2);
    CHECK(pending[0].id == "0");
    CHECK(pending[0].data == data[0]);
    CHECK(pending[1].id == "4");
    CHECK(pending[1].data == data[4]);
}

TEST_CASE("journal: once a full region is checkpointed its old records never come back, and it is used again") {
    testsupport::TempDir dir;
    const std::string jdir = dir / "journal";
    ReceptionJournal journal(jdir, kJournalBytes);
    std::vector<ReceptionJournal::Record> pending;
    REQUIRE_FALSE(journal.open(pending));
    REQUIRE_FALSE(journal.start());
    // Five records of 200 KB fill a 1 MiB region; the sixth opens the next one.
    std::vector<ReceptionJournal::Place> places;
    for (int i = 0; i < 6; ++i) places.push_back(append(journal, dir.path(), "r" + std::to_string(i), "AE", random_bytes(200000, i)));
    CHECK(places[0].region == places[4].region);
    CHECK(places[5].region != places[0].region);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (journal.checkpoints() == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(journal.checkpoints() == 1);
    {
        const auto after = reopen(jdir);
        REQUIRE(after.size() == 1);  // the region checkpointed: its files were made durable by then
        CHECK(after[0].id == "r5");
    }
    // The region is written again: 3 more full regions' worth of records all find room.
    for (int i = 6; i < 21; ++i) {
        append(journal, dir.path(), "r" + std::to_string(i), "AE", random_bytes(200000, i));
        const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (journal.checkpoints() < static_cast<std::uint64_t>((i - 1) / 5) && std::chrono::steady_clock::now() < wait_until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(journal.checkpoints() >= 3);
}

TEST_CASE("journal: a file larger than a record, or one given before start, is left to the caller") {
    testsupport::TempDir dir;
    ReceptionJournal journal(dir / "journal", kJournalBytes);
    std::vector<ReceptionJournal::Record> pending;
    REQUIRE_FALSE(journal.open(pending));
    Received small(dir / "small", "abc");
    ReceptionJournal::Place place;
    std::error_code ec;
    CHECK(journal.append("1", "AE", small.fd, 3, place, ec) == ReceptionJournal::Append::no_room);  // not started
    REQUIRE_FALSE(journal.start());
    CHECK(journal.max_record_bytes() == kRegionBytes / 4);
    const std::string big = random_bytes(journal.max_record_bytes() + 1, 7);
    Received large(dir / "large", big);
    CHECK(journal.append("2", "AE", large.fd, big.size(), place, ec) == ReceptionJournal::Append::no_room);
    CHECK(journal.append("3", "AE", small.fd, 3, place, ec) == ReceptionJournal::Append::durable);
}

// Appends, then reopens: what `journal` wrote comes back, whichever way it was made durable.
void check_round_trip(const std::string& jdir, const std::string& files) {
    const std::string bytes = random_bytes(9000, 41);
    {
        ReceptionJournal journal(jdir, kJournalBytes);
        std::vector<ReceptionJournal::Record> pending;
        REQUIRE_FALSE(journal.open(pending));
        REQUIRE_FALSE(journal.start());
        append(journal, files, "1-sync", "AE", bytes);
    }
    const auto pending = reopen(jdir);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].data == bytes);
}

ReceptionJournal::Sync sync_method_of(const std::string& jdir) {
    ReceptionJournal journal(jdir, kJournalBytes);
    std::vector<ReceptionJournal::Record> pending;
    REQUIRE_FALSE(journal.open(pending));
    REQUIRE_FALSE(journal.start());
    return journal.sync_method();
}

long filesystem_of(const std::string& dir) {
    struct statfs st {};
    REQUIRE(::statfs(dir.c_str(), &st) == 0);
    return static_cast<long>(st.f_type);
}

bool on_ext4_or_xfs(const std::string& dir) {
    const long type = filesystem_of(dir);
    return type == EXT4_SUPER_MAGIC || type == XFS_SUPER_MAGIC;
}

// How the journal made in `jdir` syncs once `mode` (fallocate(2)) is applied to 1 MiB of it at `offset`.
ReceptionJournal::Sync sync_method_after_fallocate(const std::string& jdir, int mode, off_t offset) {
    REQUIRE(sync_method_of(jdir) == ReceptionJournal::Sync::range_and_flush);
    const int fd = ::open((jdir + "/receptions").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const int changed = ::fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, offset, 1 << 20);
    ::close(fd);
    REQUIRE(changed == 0);
    return sync_method_of(jdir);
}

TEST_CASE("journal: on ext4 or XFS a record's pages are written and the disk flushed through an idle file, not the journal's inode") {
    testsupport::TempDir dir;
    if (!on_ext4_or_xfs(dir.path())) { WARN("skipped: the test folder is on neither ext4 nor XFS"); return; }
    const std::string jdir = dir / "journal";
    CHECK(sync_method_of(jdir) == ReceptionJournal::Sync::range_and_flush);
    CHECK(fs::is_regular_file(jdir + "/flush/receptions.flush"));
    check_round_trip(jdir, dir.path());
}

TEST_CASE("journal: a journal with holes or unwritten extents, or on another file system, is made durable by its own fdatasync") {
    testsupport::TempDir dir;
    SECTION("holes: a record's write would allocate blocks, metadata that only fdatasync of the journal writes") {
        if (!on_ext4_or_xfs(dir.path())) { WARN("skipped: the test folder is on neither ext4 nor XFS"); return; }
        CHECK(sync_method_after_fallocate(dir / "journal", FALLOC_FL_PUNCH_HOLE, 1 << 20) ==
              ReceptionJournal::Sync::journal_fdatasync);
    }
    SECTION("unwritten extents (fallocated): a record's write would convert them, metadata that only fdatasync writes") {
        if (!on_ext4_or_xfs(dir.path())) { WARN("skipped: the test folder is on neither ext4 nor XFS"); return; }
        CHECK(sync_method_after_fallocate(dir / "journal", FALLOC_FL_ZERO_RANGE, 2 << 20) ==
              ReceptionJournal::Sync::journal_fdatasync);
    }
    SECTION("tmpfs: not a file system whose overwrites the range write and flush are known to cover") {
        if (!fs::is_directory("/dev/shm") || filesystem_of("/dev/shm") != TMPFS_MAGIC) { WARN("skipped: no tmpfs at /dev/shm"); return; }
        char tmpl[] = "/dev/shm/deid-journal-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        const std::string root = tmpl;
        CHECK(sync_method_of(root + "/journal") == ReceptionJournal::Sync::journal_fdatasync);
        CHECK_FALSE(fs::exists(root + "/journal/flush"));
        check_round_trip(root + "/journal", root);
        fs::remove_all(root);
    }
}

TEST_CASE("journal: a journal smaller than four regions of 1 MiB is refused") {
    testsupport::TempDir dir;
    ReceptionJournal journal(dir / "journal", 3u << 20);
    std::vector<ReceptionJournal::Record> pending;
    CHECK(journal.open(pending) == std::make_error_code(std::errc::invalid_argument));
}

TEST_CASE("spool with a journal: incoming files lost or torn after Success are written again at start-up, but not finished or quarantined ones") {
    testsupport::TempDir dir;
    config::Spool limits;
    limits.journal_bytes = kJournalBytes;
    auto first = std::make_unique<spool::Spool>(dir / "spool", limits);
    REQUIRE_FALSE(first->prepare({"pacs"}));
    REQUIRE(first->journal());
    std::vector<spool::InstanceRecord> records;
    std::vector<std::string> bytes;
    for (int i = 0; i < 5; ++i) {
        bytes.push_back(random_bytes(9000 + i, 20 + i));
        Received file(first->tmp_dir() + "/" + std::to_string(i) + ".part", bytes.back());
        spool::InstanceRecord r;
        r.id = first->new_id();
        r.calling_ae = i == 4 ? std::string("\xff\x01 MOD", 6) : "MOD";
        REQUIRE_FALSE(first->admit(r.without_data(), file.path, bytes.back().size(), file.fd));
        REQUIRE(testsupport::read_file(first->incoming_path(r)) == bytes.back());
        records.push_back(r.without_data());
    }
    CHECK(first->journal()->syncs() >= 5);
    // Finished: rejected (removed from incoming/), and quarantined.
    first->reject(records[2]);
    spool::QuarantineRecord q;
    q.id = records[3].id;
    q.reason = "deidentification-failed";
    q.stage = spool::Stage::deidentify;
    REQUIRE_FALSE(first->quarantine_incoming(records[3], q));
    first.reset();
    // What a power failure can do to what was never synced: a rename lost, a file's data torn.
    fs::remove(dir / "spool/incoming/" + fs::path(spool::Spool(dir / "spool", limits).incoming_path(records[0])).filename().string());
    const std::string torn = spool::Spool(dir / "spool", limits).incoming_path(records[1]);
    fs::resize_file(torn, 4000);

    spool::Spool second(dir / "spool", limits);
    REQUIRE_FALSE(second.prepare({"pacs"}));
    CHECK(second.journal_restored() == 2);
    CHECK(testsupport::read_file(second.incoming_path(records[0])) == bytes[0]);
    CHECK(testsupport::read_file(second.incoming_path(records[1])) == bytes[1]);
    CHECK_FALSE(fs::exists(second.incoming_path(records[2])));
    CHECK_FALSE(fs::exists(second.incoming_path(records[3])));
    CHECK(testsupport::read_file(second.incoming_path(records[4])) == bytes[4]);
    CHECK(second.list_incoming().size() == 3);
    CHECK(second.quarantined().size() == 1);
    CHECK(fs::is_empty(second.tmp_dir() + "/free"));  // nothing left over from the restore
}

TEST_CASE("spool without a journal (spool.journal_bytes 0) makes each reception durable with its own file") {
    testsupport::TempDir dir;
    config::Spool limits;
    limits.journal_bytes = 0;
    spool::Spool s(dir / "spool", limits);
    REQUIRE_FALSE(s.prepare({"pacs"}));
    CHECK_FALSE(s.journal());
    CHECK_FALSE(fs::exists(dir / "spool/journal"));
    Received file(s.tmp_dir() + "/x.part", "bytes");
    spool::InstanceRecord r;
    r.id = s.new_id();
    r.calling_ae = "MOD";
    REQUIRE_FALSE(s.admit(r.without_data(), file.path, 5, file.fd));
    CHECK(testsupport::read_file(s.incoming_path(r)) == "bytes");
}

TEST_CASE("spool whose journal cannot be created (a full disk) runs without it and says why, and a journal it can read is never dropped") {
    testsupport::TempDir dir;
    config::Spool limits;
    limits.journal_bytes = kJournalBytes;
    {
        spool::Spool s(dir / "spool", limits);
        {
            testsupport::FileSizeLimit full(1u << 20);  // the journal's 4 MiB cannot be written
            REQUIRE_FALSE(s.prepare({"pacs"}));
        }
        CHECK_FALSE(s.journal());
        CHECK(s.journal_unavailable() == std::errc::file_too_large);
        Received file(s.tmp_dir() + "/x.part", "bytes");
        spool::InstanceRecord r;
        r.id = s.new_id();
        r.calling_ae = "MOD";
        REQUIRE_FALSE(s.admit(r.without_data(), file.path, 5, file.fd));
        CHECK(s.durable_by_file() == 1);
        CHECK(s.durable_by_journal() == 0);
    }
    // With room again it is created; a record written then survives a start that cannot grow it.
    spool::InstanceRecord kept;
    const std::string bytes = random_bytes(9000, 99);
    {
        spool::Spool s(dir / "spool", limits);
        REQUIRE_FALSE(s.prepare({"pacs"}));
        REQUIRE(s.journal());
        CHECK_FALSE(s.journal_unavailable());
        Received file(s.tmp_dir() + "/y.part", bytes);
        kept.id = s.new_id();
        kept.calling_ae = "MOD";
        REQUIRE_FALSE(s.admit(kept.without_data(), file.path, bytes.size(), file.fd));
        CHECK(s.durable_by_journal() == 1);
        fs::remove(s.incoming_path(kept));  // lost in a power failure
    }
    limits.journal_bytes = 8u << 20;  // another size: read with the old one, then made anew
    spool::Spool s(dir / "spool", limits);
    {
        testsupport::FileSizeLimit full(1u << 20);
        REQUIRE_FALSE(s.prepare({"pacs"}));  // the record is read and its file written (9 kB) ...
    }
    CHECK(testsupport::read_file(s.incoming_path(kept)) == bytes);
    CHECK_FALSE(s.journal());  // ... the new 8 MiB journal could not be
    CHECK(s.journal_unavailable() == std::errc::file_too_large);
}
