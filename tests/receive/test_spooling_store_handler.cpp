#include "receive/SpoolingStoreHandler.h"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <stdexcept>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "dimse/DimseStatus.h"
#include "tests/support/Process.h"

namespace fs = std::filesystem;

namespace {
struct Fixture {
    testsupport::TempDir dir;
    config::Spool limits;
    spool::Spool spool{dir / "spool", limits};
    std::vector<spool::InstanceRecord> spooled;
    receive::SpoolingStoreHandler handler{spool};
    int n = 0;
    Fixture() {
        REQUIRE_FALSE(spool.prepare({"pacs"}));
        spool.on_incoming([this](spool::InstanceRecord r) { spooled.push_back(std::move(r)); });
    }
    dimse::CStoreRequest request(const std::string& content = "data") {
        dimse::CStoreRequest r;
        r.association_id = "assoc-1";
        r.calling_ae = "MOD";
        r.affected_sop_class_uid = r.dataset_sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
        r.affected_sop_instance_uid = r.dataset_sop_instance_uid = "1.2.3";
        r.parsed = true;
        r.file_path = spool.tmp_dir() + "/" + std::to_string(++n) + ".part";
        testsupport::write_file(r.file_path, content);
        r.file_size = content.size();
        return r;
    }
};
}  // namespace

TEST_CASE("Success only once the instance is in incoming and handed on") {
    Fixture f;
    auto r = f.request();
    CHECK(f.handler.handle_store(r) == dimse::DimseStatus::Success);
    CHECK_FALSE(fs::exists(r.file_path));
    REQUIRE(f.spooled.size() == 1);
    CHECK(f.spooled[0].calling_ae == "MOD");
    CHECK(fs::exists(f.spool.incoming_path(f.spooled[0])));
    CHECK(f.spool.list_incoming().size() == 1);
    CHECK(f.spool.list_incoming()[0].calling_ae == "MOD");
    CHECK(f.spool.bytes_held() == 4);
}

TEST_CASE("unparsable data is C000 and a SOP class mismatch is A900 and both are quarantined") {
    Fixture f;
    auto r = f.request();
    r.parsed = false;
    CHECK(f.handler.handle_store(r) == dimse::DimseStatus::CannotUnderstand);
    r = f.request();
    r.dataset_sop_class_uid = "1.2.840.10008.5.1.4.1.1.4";
    CHECK(f.handler.handle_store(r) == dimse::DimseStatus::DataSetDoesNotMatchSopClass);
    CHECK(f.spooled.empty());
    CHECK(f.spool.list_incoming().empty());
    const auto q = f.spool.quarantined();
    REQUIRE(q.size() == 2);
    CHECK(((q[0].reason == "malformed" && q[1].reason == "sop-class-mismatch") ||
           (q[1].reason == "malformed" && q[0].reason == "sop-class-mismatch")));
    CHECK(q[0].stage == spool::Stage::receive);
}

TEST_CASE("over spool.max_bytes the answer is A700 until space frees") {
    Fixture f;
    f.limits.max_bytes = 10;
    spool::Spool small(f.dir / "spool", f.limits);
    REQUIRE_FALSE(small.prepare({"pacs"}));
    receive::SpoolingStoreHandler handler(small);
    auto r = f.request("12345678");
    CHECK(handler.handle_store(r) == dimse::DimseStatus::Success);
    r = f.request("12345678");
    CHECK(handler.handle_store(r) == dimse::DimseStatus::RefusedOutOfResources);
    small.remove_incoming(small.list_incoming().at(0));
    r = f.request("12345678");
    CHECK(handler.handle_store(r) == dimse::DimseStatus::Success);
}

TEST_CASE("at start, outgoing copies of instances still in incoming are dropped, delivered-only ones stay") {
    Fixture f;
    auto r = f.request("original");
    REQUIRE(f.handler.handle_store(r) == dimse::DimseStatus::Success);
    const spool::InstanceRecord pending = f.spooled.at(0).without_data();
    // A de-identified copy that was queued but never synced (a crash may leave it torn) ...
    testsupport::write_file(f.spool.tmp_dir() + "/torn", "");
    REQUIRE_FALSE(f.spool.add_outgoing(f.spool.tmp_dir() + "/torn", "pacs", pending.id));
    // ... and one whose original is gone (a replayed forward-stage instance: synced in quarantine).
    testsupport::write_file(f.spool.tmp_dir() + "/kept", "deidentified");
    REQUIRE_FALSE(f.spool.add_outgoing(f.spool.tmp_dir() + "/kept", "pacs", "0000000000001-000001-abcd"));
    REQUIRE(f.spool.list_outgoing("pacs").size() == 2);

    spool::Spool restarted(f.spool.root(), f.limits);
    REQUIRE_FALSE(restarted.prepare({"pacs"}));
    CHECK(restarted.list_outgoing("pacs") == std::vector<std::string>{"0000000000001-000001-abcd"});
    REQUIRE(restarted.list_incoming().size() == 1);
    CHECK(restarted.list_incoming()[0].id == pending.id);
    CHECK(restarted.has_incoming(pending));
    CHECK(testsupport::read_file(restarted.incoming_path(pending)) == "original");
}

namespace {
ino_t inode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}
}  // namespace

TEST_CASE("delivered outgoing files are reused only for outputs, and only once a synced batch of 32 is complete") {
    Fixture f;
    std::set<ino_t> delivered;
    auto deliver_one = [&] {
        const std::string id = f.spool.new_id();
        const std::string output = f.spool.tmp_dir() + "/" + id + ".deid.dcm";
        testsupport::write_file(output, "de-identified");
        REQUIRE_FALSE(f.spool.add_outgoing(output, "pacs", id));
        ::unlink(output.c_str());
        delivered.insert(inode_of(f.spool.outgoing_path("pacs", id)));
        f.spool.remove_outgoing("pacs", id);
        CHECK_FALSE(fs::exists(f.spool.outgoing_path("pacs", id)));
    };
    const std::string next = f.spool.tmp_dir() + "/next.deid.dcm";
    // 31 removals from outgoing/ not yet synced: none of their inodes may hold anything else.
    for (int i = 0; i < 31; ++i) deliver_one();
    f.spool.reuse_output_file_for(next);
    CHECK_FALSE(fs::exists(next));
    // The 32nd removal fsyncs the outgoing folders: the batch may now be overwritten by outputs.
    deliver_one();
    f.spool.reuse_output_file_for(next);
    REQUIRE(fs::exists(next));
    CHECK(delivered.count(inode_of(next)) == 1);
    // A reception never gets one of them (a stale outgoing entry must never hold an original).
    const std::string received = f.spool.tmp_dir() + "/received.part";
    f.spool.reuse_file_for(received);
    CHECK((!fs::exists(received) || delivered.count(inode_of(received)) == 0));
    CHECK(f.spool.list_outgoing("pacs").empty());
}

TEST_CASE("the spool is owner-only, and finished originals are kept with their blocks for receptions unless large") {
    Fixture f;
    struct stat st {};
    REQUIRE(::stat(f.spool.root().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    auto small = f.request(std::string(100000, 'a'));
    REQUIRE(f.handler.handle_store(small) == dimse::DimseStatus::Success);
    const ino_t small_inode = inode_of(f.spool.incoming_path(f.spooled.back()));
    f.spool.remove_incoming(f.spooled.back());
    CHECK(f.spool.bytes_held() == 0);
    const std::string next = f.spool.tmp_dir() + "/next.part";
    f.spool.reuse_file_for(next);
    REQUIRE(fs::exists(next));
    CHECK(inode_of(next) == small_inode);
    CHECK(fs::file_size(next) == 100000);  // not emptied: the reception writes over it and cuts it

    auto large = f.request(std::string(5 << 20, 'b'));
    REQUIRE(f.handler.handle_store(large) == dimse::DimseStatus::Success);
    f.spool.remove_incoming(f.spooled.back());
    CHECK_FALSE(fs::exists(f.spool.incoming_path(f.spooled.back())));
    const std::string after = f.spool.tmp_dir() + "/after.part";
    f.spool.reuse_file_for(after);
    CHECK_FALSE(fs::exists(after));  // deleted, not kept
}

TEST_CASE("the parsed instance goes on with the instance record while the budget lasts, and gives its bytes back") {
    Fixture f;
    spool::ParsedBudget budget(10);
    std::vector<spool::ParsedInstance> handed;
    receive::SpoolingStoreHandler handler(f.spool, &budget);
    f.spool.on_incoming([&](spool::InstanceRecord r) { handed.push_back(std::move(r.parsed)); });
    auto store = [&](const std::string& content) {
        auto r = f.request(content);
        r.dataset = std::make_unique<DcmFileFormat>();
        return handler.handle_store(r);
    };
    CHECK(store("123456") == dimse::DimseStatus::Success);  // 6 of 10
    CHECK(store("123456") == dimse::DimseStatus::Success);  // would be 12
    REQUIRE(handed.size() == 2);
    CHECK(handed[0]);
    CHECK_FALSE(handed[1]);  // the next stage reads the file
    CHECK(budget.used() == 6);
    handed.clear();
    CHECK(budget.used() == 0);
    CHECK(store("1234567890") == dimse::DimseStatus::Success);
    REQUIRE(handed.size() == 1);
    CHECK(handed[0]);
}

TEST_CASE("an exception inside the handler becomes A700 and a log line, never an escape into DCMTK") {
    Fixture f;
    f.spool.on_incoming([](spool::InstanceRecord) { throw std::runtime_error("listener failed"); });
    auto r = f.request();
    std::uint16_t status = 0;
    CHECK_NOTHROW(status = f.handler.handle_store(r));
    CHECK(status == dimse::DimseStatus::RefusedOutOfResources);
}

TEST_CASE("a peer's AE title with invalid UTF-8 is quarantined like any other: C000, a readable record") {
    Fixture f;
    auto r = f.request();
    r.calling_ae = std::string("MOD\xc3\x28", 5);
    r.parsed = false;
    std::uint16_t status = 0;
    CHECK_NOTHROW(status = f.handler.handle_store(r));
    CHECK(status == dimse::DimseStatus::CannotUnderstand);
    const auto q = f.spool.quarantined();
    REQUIRE(q.size() == 1);
    CHECK(q[0].reason == "malformed");
    CHECK(q[0].detail == "the data set cannot be parsed");
}

TEST_CASE("a data set received into memory: Success with its journal record alone, and a refused one is quarantined with its bytes") {
    Fixture f;
    REQUIRE(f.spool.journal());
    const auto in_memory = [&f](const std::string& content) {
        auto r = f.request();
        std::filesystem::remove(r.file_path);  // received into memory: the SCP made no file
        r.in_memory = true;
        r.data = content;
        r.file_size = content.size();
        return r;
    };
    auto r = in_memory("held bytes");
    CHECK(f.handler.handle_store(r) == dimse::DimseStatus::Success);
    REQUIRE(f.spooled.size() == 1);
    CHECK_FALSE(fs::exists(r.file_path));
    CHECK_FALSE(fs::exists(f.spool.incoming_path(f.spooled[0])));
    CHECK(f.spool.has_incoming(f.spooled[0]));
    CHECK(f.spool.durable_by_journal() == 1);
    REQUIRE_FALSE(f.spool.make_incoming_file(f.spooled[0]));
    CHECK(testsupport::read_file(f.spool.incoming_path(f.spooled[0])) == "held bytes");

    auto bad = in_memory("not DICOM");
    bad.parsed = false;
    CHECK(f.handler.handle_store(bad) == dimse::DimseStatus::CannotUnderstand);
    CHECK_FALSE(fs::exists(bad.file_path));  // moved into the quarantine: nothing left for the SCP
    const auto q = f.spool.quarantined();
    REQUIRE(q.size() == 1);
    CHECK(q[0].reason == "malformed");
    CHECK(testsupport::read_file(q[0].folder + "/instance.dcm") == "not DICOM");
}
