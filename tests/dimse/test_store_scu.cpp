#include "dimse/StoreScu.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <set>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "dimse/InstanceInfo.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct StoreScpPeer {
    testsupport::TempDir dir;
    int port = testsupport::free_port();
    testsupport::Child child;
    explicit StoreScpPeer(std::vector<std::string> extra = {}) {
        fs::create_directories(dir / "in");
        std::vector<std::string> argv = {"storescp", "-v", "-aet", "SINK", "-od", dir / "in"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(std::to_string(port));
        child = testsupport::Child(argv, dir / "log");
        REQUIRE(testsupport::wait_for_port(port));
    }
    std::vector<std::string> received() {
        std::vector<std::string> out;
        for (auto& e : fs::directory_iterator(dir / "in")) out.push_back(e.path().string());
        return out;
    }
    int associations() {
        const std::string log = testsupport::read_file(dir / "log");
        int n = 0;
        for (size_t p = 0; (p = log.find("Association Acknowledged", p)) != std::string::npos; ++p) ++n;
        return n;
    }
};

dimse::ScuSettings to(int port) {
    dimse::ScuSettings s;
    s.calling_ae = "DEIDGW";
    s.called_ae = "SINK";
    s.host = "127.0.0.1";
    s.port = port;
    s.acse_timeout_seconds = 10;
    s.dimse_timeout_seconds = 10;
    return s;
}

}  // namespace

TEST_CASE("the SCU keeps one association open for many instances") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 4}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 2}};
    const auto files = testdata::write_study(src.path(), spec);
    StoreScpPeer peer;
    {
        dimse::StoreScu scu(to(peer.port));
        for (const auto& f : files) {
            const auto r = scu.send_file(f.path);
            INFO(r.detail);
            CHECK(r.kind == dimse::SendResult::Kind::Sent);
            CHECK(r.status == 0);
        }
        CHECK(scu.connected());
    }
    CHECK(peer.received().size() == files.size());
    // One association for the CT instances; a new SOP class renegotiates once.
    CHECK(peer.associations() <= 2);
}

TEST_CASE("the SCU decompresses when the peer accepts only uncompressed") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.rle = true;
    const auto files = testdata::write_study(src.path(), spec);
    StoreScpPeer peer;  // storescp accepts uncompressed syntaxes only by default
    dimse::StoreScu scu(to(peer.port));
    const auto r = scu.send_file(files[0].path);
    INFO(r.detail);
    REQUIRE(r.kind == dimse::SendResult::Kind::Sent);
    scu.release();
    const auto got = peer.received();
    REQUIRE(got.size() == 1);
    const auto info = dimse::read_instance_info(got[0]);
    REQUIRE(info);
    CHECK(info->transfer_syntax_uid != "1.2.840.10008.1.2.5");
    CHECK(info->sop_instance_uid == files[0].sop_instance_uid);
}

TEST_CASE("the SCU keeps the compressed syntax when the peer accepts it") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.rle = true;
    const auto files = testdata::write_study(src.path(), spec);
    StoreScpPeer peer({"+xa"});  // accept all supported transfer syntaxes
    dimse::StoreScu scu(to(peer.port));
    REQUIRE(scu.send_file(files[0].path).kind == dimse::SendResult::Kind::Sent);
    scu.release();
    const auto got = peer.received();
    REQUIRE(got.size() == 1);
    CHECK(dimse::read_instance_info(got[0])->transfer_syntax_uid == "1.2.840.10008.1.2.5");
}

TEST_CASE("an unsupported SOP class is a refusal and a peer that is down is a retry") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"OT", "1.2.826.0.1.3680043.8.498.77", 1}};  // a SOP class no peer knows
    const auto files = testdata::write_study(src.path(), spec);
    StoreScpPeer peer;
    dimse::StoreScu scu(to(peer.port));
    auto r = scu.send_file(files[0].path);
    CHECK(r.kind == dimse::SendResult::Kind::Refused);
    CHECK(r.error == dimse::DimseError::no_presentation_context);  // the code decides...
    CHECK(r.reason() == "sop-class-not-supported");                // ...the slug is derived from it

    dimse::StoreScu nowhere(to(testsupport::free_port()));
    r = nowhere.send_file(files[0].path);
    CHECK(r.kind == dimse::SendResult::Kind::Retry);
    CHECK(r.error == dimse::DimseError::connect_failed);
    CHECK(r.reason() == "connect-failed");
}

TEST_CASE("every send error has its own quarantine slug from the one table, and no error has none") {
    using dimse::DimseError;
    CHECK(std::string(dimse::reason_slug({})).empty());
    std::set<std::string> slugs;
    for (DimseError e : {DimseError::connect_failed, DimseError::association_rejected, DimseError::no_presentation_context,
                         DimseError::cannot_convert, DimseError::send_failed, DimseError::file_unreadable,
                         DimseError::timeout, DimseError::tls_failed, DimseError::peer_failure,
                         DimseError::write_failed, DimseError::invalid_uid}) {
        const std::string slug = dimse::reason_slug(e);
        CHECK(!slug.empty());
        CHECK(slug.find_first_not_of("abcdefghijklmnopqrstuvwxyz-") == std::string::npos);  // a folder name
        slugs.insert(slug);
    }
    CHECK(slugs.size() == 11);
    CHECK(std::string(dimse::reason_slug(DimseError::sop_class_not_supported)) == "sop-class-not-supported");
    CHECK(std::string(dimse::reason_slug(DimseError::tls_failed)) == "tls-failed");
    CHECK(std::string(dimse::reason_slug(std::make_error_code(std::errc::io_error))) == "send-failed");
}

TEST_CASE("an instance sent parsed arrives with the same bytes as sent from its file") {
    for (const bool rle : {false, true}) {
        testsupport::TempDir src;
        testdata::StudySpec spec;
        spec.rle = rle;  // compressed: the peer accepts only uncompressed, so both paths decompress
        const auto files = testdata::write_study(src.path(), spec);
        StoreScpPeer from_file, from_memory;
        {
            dimse::StoreScu scu(to(from_file.port));
            REQUIRE(scu.send_file(files[0].path).kind == dimse::SendResult::Kind::Sent);
        }
        DcmFileFormat parsed;
        REQUIRE(parsed.loadFile(files[0].path.c_str(), EXS_Unknown, EGL_noChange, OFstatic_cast(Uint32, -1)).good());
        REQUIRE(parsed.loadAllDataIntoMemory().good());
        const std::string ts = DcmXfer(parsed.getDataset()->getOriginalXfer()).getXferID();
        fs::remove(files[0].path);  // nothing is read from the file
        {
            dimse::StoreScu scu(to(from_memory.port));
            const auto r = scu.send_parsed(parsed, ts);
            INFO(r.detail);
            REQUIRE(r.kind == dimse::SendResult::Kind::Sent);
        }
        const auto a = from_file.received(), b = from_memory.received();
        REQUIRE(a.size() == 1);
        REQUIRE(b.size() == 1);
        CHECK(testsupport::read_file(a[0]) == testsupport::read_file(b[0]));
    }
}
