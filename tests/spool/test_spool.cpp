// The spool's state machine and its join, without sockets or threads: admission hands an instance
// to the incoming listener once, publishing hands it to each destination, the last destination
// done finishes it; quarantine keeps one record per failed destination.
#include "spool/Spool.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/Process.h"

namespace fs = std::filesystem;

namespace {
// Bytes of the files under `dir`, but for the reception journal: a fixed size, written once at
// start-up and not an instance (spool.max_bytes does not count it, docs/configuration.md).
std::uint64_t tree_bytes(const std::string& dir) {
    std::uint64_t total = 0;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        if (it->is_directory() && it->path().filename() == "journal" && it.depth() == 0) {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file()) total += it->file_size();
    }
    return total;
}

struct Fixture {
    testsupport::TempDir dir;
    config::Spool limits;
    std::unique_ptr<spool::Spool> spool;
    std::vector<spool::InstanceRecord> incoming;
    std::map<std::string, std::vector<spool::InstanceRecord>> outgoing;
    int n = 0;
    explicit Fixture(config::Spool l = {}) : limits(l) {
        spool = std::make_unique<spool::Spool>(dir / "spool", limits);
        REQUIRE_FALSE(spool->prepare({"a", "b"}));
        spool->on_incoming([this](spool::InstanceRecord r) { incoming.push_back(std::move(r)); });
        for (const std::string d : {"a", "b"})
            spool->on_outgoing(d, [this, d](spool::InstanceRecord r) { outgoing[d].push_back(std::move(r)); });
    }
    // A received file admitted into incoming/.
    spool::InstanceRecord admit(const std::string& content = "original", const std::string& ae = "MOD") {
        const std::string file = spool->tmp_dir() + "/" + std::to_string(++n) + ".part";
        testsupport::write_file(file, content);
        spool::InstanceRecord r;
        r.id = spool->new_id();
        r.calling_ae = ae;
        REQUIRE_FALSE(spool->admit(r.without_data(), file, content.size()));
        return r;
    }
    std::string output(const spool::InstanceRecord& r) {
        const std::string file = spool->tmp_dir() + "/" + r.id + ".deid.dcm";
        testsupport::write_file(file, "de-identified");
        return file;
    }
};
}  // namespace

TEST_CASE("an instance is finished only when its last destination is done, and handed out once") {
    Fixture f;
    const auto r = f.admit();
    REQUIRE(f.incoming.size() == 1);
    CHECK(f.incoming[0].id == r.id);
    f.spool->sweep();
    CHECK(f.incoming.size() == 1);  // the worker holds it: not handed again

    REQUIRE_FALSE(f.spool->publish(r.without_data(), f.output(r), {"a", "b"}));
    REQUIRE(f.outgoing["a"].size() == 1);
    REQUIRE(f.outgoing["b"].size() == 1);
    CHECK(fs::exists(f.spool->outgoing_path("a", r.id)));
    CHECK(fs::exists(f.spool->outgoing_path("b", r.id)));
    f.spool->sweep();
    CHECK(f.incoming.size() == 1);
    CHECK(f.outgoing["a"].size() == 1);  // both queues hold it: nothing handed twice

    f.spool->delivered("a", r.id);
    CHECK_FALSE(fs::exists(f.spool->outgoing_path("a", r.id)));
    CHECK(f.spool->has_incoming(r));  // b still waits: the original stays
    CHECK(f.spool->in_flight() == 1);
    f.spool->delivered("b", r.id);
    CHECK_FALSE(f.spool->has_incoming(r));
    CHECK(f.spool->in_flight() == 0);
    CHECK(f.spool->bytes_held() == 0);
}

TEST_CASE("an instance given back by a stage is handed out again by the next sweep") {
    Fixture f;
    const auto r = f.admit();
    REQUIRE(f.incoming.size() == 1);
    f.spool->give_back(r);
    f.spool->sweep();
    REQUIRE(f.incoming.size() == 2);
    CHECK(f.incoming[1].id == r.id);
    CHECK(f.incoming[1].calling_ae == "MOD");
    f.spool->reject(r);
    CHECK_FALSE(f.spool->has_incoming(r));
    f.spool->sweep();
    CHECK(f.incoming.size() == 2);
}

TEST_CASE("with no destination the instance is finished at once, one destination gets the data set") {
    Fixture f;
    const auto r = f.admit();
    REQUIRE_FALSE(f.spool->publish(r.without_data(), f.output(r), {}));
    CHECK_FALSE(f.spool->has_incoming(r));
    CHECK(f.spool->in_flight() == 0);

    const auto s = f.admit();
    spool::InstanceRecord with_data = s.without_data();
    with_data.parsed.transfer_syntax_uid = "1.2.840.10008.1.2.1";
    REQUIRE_FALSE(f.spool->publish(std::move(with_data), f.output(s), {"b"}));
    REQUIRE(f.outgoing["b"].size() == 1);
    CHECK(f.outgoing["b"][0].parsed.transfer_syntax_uid == "1.2.840.10008.1.2.1");
    CHECK(f.outgoing["a"].empty());
}

TEST_CASE("two destinations refusing one instance for the same reason give two quarantine records, each replayed to its own destination") {
    Fixture f;
    const auto r = f.admit();
    REQUIRE_FALSE(f.spool->publish(r.without_data(), f.output(r), {"a", "b"}));
    spool::QuarantineRecord q;
    q.reason = "sop-class-not-supported";
    q.detail = "the peer answered 0122";
    REQUIRE_FALSE(f.spool->quarantine_outgoing("a", r.id, q));
    CHECK(f.spool->has_incoming(r));
    REQUIRE_FALSE(f.spool->quarantine_outgoing("b", r.id, q));
    CHECK_FALSE(f.spool->has_incoming(r));  // both destinations are done with it

    const auto records = f.spool->quarantined();
    REQUIRE(records.size() == 2);
    CHECK(records[0].id == r.id);
    CHECK(records[1].id == r.id);
    CHECK(records[0].destination == "a");
    CHECK(records[1].destination == "b");
    CHECK(records[0].stage == spool::Stage::forward);
    CHECK(f.spool->find_quarantined(r.id).size() == 2);

    REQUIRE_FALSE(f.spool->replay(records[1]));
    CHECK(f.spool->list_outgoing("b") == std::vector<std::string>{r.id});
    CHECK(f.spool->list_outgoing("a").empty());
    CHECK(f.spool->list_incoming().empty());
    f.spool->sweep();
    REQUIRE(f.outgoing["b"].size() == 2);  // handed to b once more, nothing else
    CHECK(f.outgoing["a"].size() == 1);
    CHECK(f.incoming.size() == 1);
    f.spool->delivered("b", r.id);
    f.spool->sweep();
    CHECK(f.outgoing["b"].size() == 2);  // nothing loops
    CHECK(f.spool->quarantined().size() == 1);
}

TEST_CASE("invalid UTF-8 in a peer's AE title cannot break the quarantine record") {
    Fixture f;
    const std::string bad_ae = std::string("MOD\xff\xfe", 5);
    const auto r = f.admit("original", bad_ae);
    spool::QuarantineRecord q;
    q.id = r.id;
    q.reason = "malformed";
    q.detail = "the data set cannot be parsed";
    q.stage = spool::Stage::deidentify;
    q.calling_ae = bad_ae;
    REQUIRE_FALSE(f.spool->quarantine_incoming(r, q));
    const auto records = f.spool->quarantined();
    REQUIRE(records.size() == 1);
    CHECK(records[0].detail == "the data set cannot be parsed");
    CHECK(records[0].calling_ae.rfind("MOD", 0) == 0);
    std::ifstream in(records[0].folder + "/reason.json");
    CHECK_NOTHROW(nlohmann::json::parse(in));
}

TEST_CASE("recycled files count against spool.max_bytes: admission gives them back before it would go over") {
    config::Spool limits;
    limits.max_bytes = 150000;
    Fixture f(limits);
    const auto first = f.admit(std::string(100000, 'a'));
    f.spool->reject(first);  // finished: its file is kept for reuse, with its blocks
    CHECK(f.spool->bytes_held() == 0);
    CHECK(f.spool->has_room(100000));  // room once the recycled file is given back
    f.admit(std::string(100000, 'b'));
    CHECK(tree_bytes(f.spool->root()) <= limits.max_bytes);
}

TEST_CASE("recycled files are given back once the spool is idle") {
    Fixture f;
    const auto r = f.admit(std::string(100000, 'a'));
    f.spool->reject(r);
    REQUIRE(tree_bytes(f.spool->root()) == 100000);  // kept for the next reception
    f.spool->sweep();  // something arrived since the last sweep: kept
    CHECK(tree_bytes(f.spool->root()) == 100000);
    f.spool->sweep();  // a whole sweep interval idle: given back
    CHECK(tree_bytes(f.spool->root()) == 0);
}
