// dimse/StoreScu: the data set sent as its spooled file stores it when the peer accepted the file's
// transfer syntax (over plain TCP and TLS, with a small peer max PDU), and encoded by DIMSE when it
// did not or when DIMSE would change the bytes. The peer is DCMTK storescp in bit-preserving mode
// (+B: it writes the data set exactly as it arrived), so the received file's data set is compared
// byte for byte with the one the gateway wrote (written here as its workers write, and, through a
// running gateway, its folder destination's copy). Orthanc (the gateway tests' fixture) re-encodes
// what it stores, so there the values are compared.
#include "dimse/StoreScu.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "dimse/Tls.h"
#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Pki {
    testsupport::TempDir dir;
    Pki() {
        auto r = testsupport::run({std::string(DEID_SOURCE_DIR) + "/tests/support/make-test-pki.sh", dir.path()}, 120s);
        REQUIRE(r.exit_code == 0);
    }
};

const Pki& test_pki() {
    static Pki pki;
    return pki;
}

// storescp writing what it receives under in/, with `extra` options before the port.
struct Sink {
    testsupport::TempDir dir;
    int port = testsupport::free_port();
    testsupport::Child child;
    explicit Sink(std::vector<std::string> extra) {
        fs::create_directories(dir / "in");
        std::vector<std::string> argv = {"storescp", "-aet", "SINK", "-od", dir / "in"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(std::to_string(port));
        child = testsupport::Child(argv, dir / "log");
        REQUIRE(testsupport::wait_for_port(port));
    }
    // The one file received (storescp writes it before it answers the C-STORE).
    std::string received() {
        std::vector<std::string> out;
        for (auto& e : fs::directory_iterator(dir / "in")) out.push_back(e.path().string());
        REQUIRE(out.size() == 1);
        return out[0];
    }
};

// A peer on loopback, with 10 s timeouts.
dimse::ScuSettings to(const std::string& called_ae, int port) {
    dimse::ScuSettings s;
    s.called_ae = called_ae;
    s.host = "127.0.0.1";
    s.port = port;
    s.acse_timeout_seconds = 10;
    s.dimse_timeout_seconds = 10;
    return s;
}
dimse::ScuSettings to(const Sink& sink) { return to("SINK", sink.port); }

// A file's data set bytes: what follows its meta header (preamble, "DICM", then the group whose
// length DCMTK measures).
std::string dataset_bytes(const std::string& path) {
    DcmFileFormat f;
    REQUIRE(f.loadFile(path.c_str()).good());
    const Uint32 meta = f.getMetaInfo()->getLength(EXS_LittleEndianExplicit, EET_ExplicitLength);
    const std::string all = testsupport::read_file(path);
    REQUIRE(all.size() > 132 + meta);
    return all.substr(132 + meta);
}

// A file's data set values, encoded the same way whatever syntax its file has.
std::string dataset_values(const std::string& path) {
    DcmFileFormat f;
    REQUIRE(f.loadFile(path.c_str()).good());
    REQUIRE(f.getDataset()->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
    testsupport::TempDir tmp;
    REQUIRE(f.getDataset()
                ->saveFile((tmp / "values").c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_withoutGL,
                           EPD_withoutPadding)
                .good());
    return testsupport::read_file(tmp / "values");
}

std::string transfer_syntax_of(const std::string& path) {
    DcmFileFormat f;
    REQUIRE(f.loadFile(path.c_str()).good());
    OFString ts;
    f.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts);
    return ts.c_str();
}

// Saved as the de-identification worker saves its output (deid/InstanceDeidentifier.cpp).
void save_as_worker(DcmFileFormat& f, const std::string& path, E_TransferSyntax xfer) {
    REQUIRE(f.saveFile(path.c_str(), xfer, EET_ExplicitLength, EGL_noChange, EPD_noChange).good());
}

// A Basic Text SR with nested content items (sequences within sequences).
std::string write_sr(const std::string& dir) {
    DcmFileFormat f;
    DcmDataset& d = *f.getDataset();
    char uid[100];
    d.putAndInsertString(DCM_SOPClassUID, UID_BasicTextSRStorage);
    d.putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid));
    d.putAndInsertString(DCM_StudyInstanceUID, dcmGenerateUniqueIdentifier(uid));
    d.putAndInsertString(DCM_SeriesInstanceUID, dcmGenerateUniqueIdentifier(uid));
    d.putAndInsertString(DCM_Modality, "SR");
    d.putAndInsertString(DCM_PatientName, "SR^PATIENT");
    d.putAndInsertString(DCM_ValueType, "CONTAINER");
    d.putAndInsertString(DCM_ContinuityOfContent, "SEPARATE");
    DcmItem* name = nullptr;
    d.findOrCreateSequenceItem(DCM_ConceptNameCodeSequence, name, 0);
    name->putAndInsertString(DCM_CodeValue, "11528-7");
    name->putAndInsertString(DCM_CodingSchemeDesignator, "LN");
    name->putAndInsertString(DCM_CodeMeaning, "Radiology Report");
    for (int i = 0; i < 3; ++i) {
        DcmItem* item = nullptr;
        d.findOrCreateSequenceItem(DCM_ContentSequence, item, -2);
        item->putAndInsertString(DCM_RelationshipType, "CONTAINS");
        item->putAndInsertString(DCM_ValueType, "TEXT");
        item->putAndInsertString(DCM_TextValue, i % 2 ? "No acute findings." : "Odd text length.");
        DcmItem* code = nullptr;
        item->findOrCreateSequenceItem(DCM_ConceptNameCodeSequence, code, 0);
        code->putAndInsertString(DCM_CodeValue, "121071");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
        code->putAndInsertString(DCM_CodeMeaning, "Finding");
    }
    const std::string path = dir + "/sr.dcm";
    save_as_worker(f, path, EXS_LittleEndianExplicit);
    return path;
}

std::string write_ct(const std::string& dir, int size, bool rle) {
    testdata::StudySpec spec;
    spec.rows = spec.columns = size;
    spec.rle = rle;
    spec.study_uid += "." + std::to_string(size) + (rle ? ".1" : ".0");  // instance UIDs differ per case
    spec.series = {testdata::Series{"CT", UID_CTImageStorage, 1}};
    const auto written = testdata::write_study(dir, spec);
    REQUIRE(written.size() == 1);
    // Saved again the worker's way (write_study is not the worker).
    DcmFileFormat f;
    REQUIRE(f.loadFile(written[0].path.c_str()).good());
    REQUIRE(f.loadAllDataIntoMemory().good());
    const E_TransferSyntax xfer = f.getDataset()->getOriginalXfer();
    const std::string path = dir + "/ct.dcm";
    save_as_worker(f, path, xfer);
    return path;
}

// How a forwarder may send an instance: from its file, parsed with its path, or parsed with the
// file's bytes in memory (an output the worker did not write: Spool::publish).
enum class From { file, parsed, memory };

dimse::SendResult send(dimse::StoreScu& scu, const std::string& path, From from) {
    if (from == From::file) return scu.send_file(path);
    DcmFileFormat f;
    REQUIRE(f.loadFile(path.c_str()).good());
    const std::string ts = DcmXfer(f.getDataset()->getOriginalXfer()).getXferID();
    if (from == From::memory) return scu.send_encoded(f, ts, testsupport::read_file(path));
    return scu.send_parsed(f, ts, path);
}

// Sends `path` on an association of its own to `settings` (as send does), requires Success and
// releases the association before the caller looks at what the peer got.
dimse::SendResult send_once(const dimse::ScuSettings& settings, const std::string& path, From from) {
    dimse::StoreScu scu(settings);
    auto r = send(scu, path, from);
    INFO(r.detail);
    REQUIRE(r.kind == dimse::SendResult::Kind::Sent);
    scu.release();
    return r;
}

}  // namespace

TEST_CASE("send as stored: CT of three sizes, an SR and an RLE instance arrive byte for byte") {
    testsupport::TempDir src;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"CT 64x64", write_ct(src / "small", 64, false)},
        {"CT 512x512", write_ct(src / "large", 512, false)},
        {"CT 1024x1024", write_ct(src / "larger", 1024, false)},  // 2 MiB: read from the file in several chunks
        {"SR", write_sr(src.path())},
        {"CT 64x64 RLE", write_ct(src / "rle", 64, true)},
    };
    // Default max PDU (16 kB), and the smallest storescp allows: the data set is cut into many PDVs.
    for (const std::string pdu : {"16384", "4096"}) {
        for (const auto& [name, path] : cases) {
            for (const From from : {From::file, From::parsed, From::memory}) {
                INFO(name << ", max PDU " << pdu << ", " << (from == From::file ? "from the file" : from == From::parsed ? "parsed" : "from memory"));
                Sink sink({"+B", "+xa", "-pdu", pdu});
                CHECK(send_once(to(sink), path, from).as_stored);
                const std::string got = sink.received();
                CHECK(transfer_syntax_of(got) == transfer_syntax_of(path));
                CHECK(dataset_bytes(got) == dataset_bytes(path));
            }
        }
    }
}

TEST_CASE("send as stored: over TLS the data set arrives byte for byte") {
    testsupport::TempDir src;
    const std::string path = write_ct(src.path(), 1024, false);  // several chunks of the file
    const auto& pki = test_pki();
    Sink sink({"+B", "+tls", pki.dir / "server.key", pki.dir / "server.crt", "+cf", pki.dir / "ca.crt"});
    dimse::TlsSettings tls;
    tls.certificate = pki.dir / "client.crt";
    tls.private_key = pki.dir / "client.key";
    tls.trusted_certificates = pki.dir / "ca.crt";
    tls.server_name = "localhost";
    std::string error;
    std::shared_ptr<DcmTransportLayer> layer = dimse::make_tls_layer(dimse::TlsRole::client, tls, error);
    INFO(error);
    REQUIRE(layer);
    auto settings = to(sink);
    settings.transport = [layer] { return layer; };
    CHECK(send_once(settings, path, From::parsed).as_stored);
    CHECK(dataset_bytes(sink.received()) == dataset_bytes(path));
    std::filesystem::remove_all(sink.dir / "in");
    std::filesystem::create_directories(sink.dir / "in");
    CHECK(send_once(settings, path, From::memory).as_stored);
    CHECK(dataset_bytes(sink.received()) == dataset_bytes(path));
}

TEST_CASE("send as stored: a peer that takes only implicit VR gets the same values, encoded by DIMSE") {
    testsupport::TempDir src;
    for (const std::string& path : {write_ct(src / "ct", 64, false), write_sr(src.path()), write_ct(src / "rle", 64, true)}) {
        INFO(path);
        Sink sink({"+B", "+xi"});
        CHECK_FALSE(send_once(to(sink), path, From::parsed).as_stored);
        const std::string got = sink.received();
        CHECK(transfer_syntax_of(got) == UID_LittleEndianImplicitTransferSyntax);
        CHECK(dataset_values(got) == dataset_values(path));
    }
}

TEST_CASE("send as stored: a file whose bytes DIMSE would change is encoded by DIMSE") {
    testsupport::TempDir src;
    const std::string ct = write_ct(src.path(), 64, false);
    DcmFileFormat f;
    REQUIRE(f.loadFile(ct.c_str()).good());
    REQUIRE(f.loadAllDataIntoMemory().good());
    bool group_length = false;
    SECTION("a group length (DIMSE recalculates it)") {
        group_length = true;
        REQUIRE(f.getDataset()->putAndInsertUint32(DcmTagKey(0x0010, 0x0000), 4711).good());
    }
    SECTION("data set trailing padding (DIMSE leaves it out)") {
        const Uint8 zeros[4] = {0, 0, 0, 0};
        REQUIRE(f.getDataset()->putAndInsertUint8Array(DCM_DataSetTrailingPadding, zeros, 4).good());
    }
    const std::string path = src / "changed.dcm";
    save_as_worker(f, path, EXS_LittleEndianExplicit);
    Sink sink({"+B"});
    CHECK_FALSE(send_once(to(sink), path, From::parsed).as_stored);
    const std::string got = sink.received();
    CHECK(dataset_bytes(got) != dataset_bytes(path));
    DcmFileFormat received;
    REQUIRE(received.loadFile(got.c_str()).good());
    if (group_length) {
        Uint32 length = 0;
        received.getDataset()->findAndGetUint32(DcmTagKey(0x0010, 0x0000), length);
        CHECK(length != 4711);
    } else {
        CHECK_FALSE(received.getDataset()->tagExists(DCM_DataSetTrailingPadding));
    }
}

// From memory, the parsed meta header says where the data set starts (StoreScu.cpp dataset_after)
// only when the bytes' own header agrees; these bytes and parsed forms do not.
TEST_CASE("send as stored: from memory, bytes whose meta header is not the parsed one are read or encoded again") {
    testsupport::TempDir src;
    const std::string ct = write_ct(src.path(), 64, false);
    DcmFileFormat f;
    REQUIRE(f.loadFile(ct.c_str()).good());
    REQUIRE(f.loadAllDataIntoMemory().good());
    std::string bytes = testsupport::read_file(ct);
    bool sent_as_stored = true;
    SECTION("the parsed header has an element the bytes lack: the bytes' header is read") {
        REQUIRE(f.getMetaInfo()->putAndInsertString(DCM_SourceApplicationEntityTitle, "OTHERAE").good());
    }
    SECTION("the bytes' group length is longer than their header: DIMSE encodes the parsed form") {
        bytes[140] = static_cast<char>(bytes[140] + 2);
        sent_as_stored = false;
    }
    SECTION("the bytes' group length is shorter than their header: DIMSE encodes the parsed form") {
        bytes[140] = static_cast<char>(bytes[140] - 2);
        sent_as_stored = false;
    }
    Sink sink({"+B"});
    dimse::StoreScu scu(to(sink));
    const auto r = scu.send_encoded(f, UID_LittleEndianExplicitTransferSyntax, bytes);
    INFO(r.detail);
    REQUIRE(r.kind == dimse::SendResult::Kind::Sent);
    scu.release();
    CHECK(r.as_stored == sent_as_stored);
    const std::string got = sink.received();
    if (sent_as_stored) CHECK(dataset_bytes(got) == dataset_bytes(ct));
    DcmFileFormat received;
    REQUIRE(received.loadFile(got.c_str()).good());
    OFString sent_uid, got_uid;
    f.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sent_uid);
    received.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, got_uid);
    CHECK(got_uid == sent_uid);
    CHECK(received.getDataset()->tagExists(DCM_PixelData));
}

TEST_CASE("send as stored: Orthanc stores the same values for CT, SR and RLE instances") {
    testsupport::TempDir src;
    const std::vector<std::string> paths = {write_ct(src / "small", 64, false), write_ct(src / "large", 512, false),
                                            write_sr(src.path()), write_ct(src / "rle", 64, true)};
    gwtest::Orthanc orthanc;
    const dimse::ScuSettings settings = to("RESEARCH", orthanc.dicom_port);
    {
        dimse::StoreScu scu(settings);
        for (const auto& path : paths) {
            const auto r = send(scu, path, From::parsed);
            INFO(path << ": " << r.detail);
            REQUIRE(r.kind == dimse::SendResult::Kind::Sent);
            CHECK(r.as_stored);  // Orthanc accepts each file's own syntax
        }
    }
    const auto instances = orthanc.get("/instances");
    REQUIRE(instances.is_array());
    REQUIRE(instances.size() == paths.size());
    std::map<std::string, std::string> stored;  // SOP Instance UID -> the file Orthanc keeps
    for (const auto& id : instances) {
        const std::string file = src / (id.get<std::string>() + ".orthanc");
        const auto r = testsupport::run({"curl", "-s", "--max-time", "10", "-o", file,
                                         "http://127.0.0.1:" + std::to_string(orthanc.http_port) + "/instances/" +
                                             id.get<std::string>() + "/file"},
                                        20s);
        REQUIRE(r.exit_code == 0);
        DcmFileFormat f;
        REQUIRE(f.loadFile(file.c_str()).good());
        OFString uid;
        f.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
        stored[uid.c_str()] = file;
    }
    for (const auto& path : paths) {
        DcmFileFormat f;
        REQUIRE(f.loadFile(path.c_str()).good());
        OFString uid;
        f.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
        INFO(path);
        REQUIRE(stored.count(uid.c_str()) == 1);
        CHECK(transfer_syntax_of(stored[uid.c_str()]) == transfer_syntax_of(path));
        CHECK(dataset_values(stored[uid.c_str()]) == dataset_values(path));
    }
}

TEST_CASE("send as stored: an output kept in memory reaches a single destination as the gateway writes it") {
    testsupport::TempDir src;
    const std::vector<std::string> paths = {write_ct(src / "small", 64, false), write_ct(src / "large", 512, false),
                                            write_sr(src.path())};
    const std::string warm_up = write_ct(src / "warm", 32, false);
    Sink with_file({"+B", "+xa"}), from_memory({"+B", "+xa"});
    // From FIRST: two destinations, so the output is written (and copied to the outbox as it is).
    // From SECOND: one destination, so the worker's bytes go to its sender in memory.
    const auto when = [](const char* ae) { return nlohmann::json{{"calling_ae", nlohmann::json::array({ae})}}; };
    gwtest::Gateway gw(nlohmann::json{
        {"destinations",
         nlohmann::json::array({{{"name", "first"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", with_file.port}, {"when", when("FIRST")}},
                                {{"name", "outbox"}, {"directory", "outbox"}, {"when", when("FIRST")}},
                                {{"name", "second"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", from_memory.port}, {"when", when("SECOND")}}})}});
    REQUIRE(gw.start());
    INFO(gw.log());
    REQUIRE(gwtest::store(gw.port, paths, "FIRST").acked.size() == paths.size());
    REQUIRE(gwtest::wait_for_files(gw.state() + "/outbox", paths.size(), 30s));
    // Outputs wait in memory only for a peer that has taken an instance (Forwarder::enqueue): the
    // forwarder knows once it has the peer's response, which it logs after the sink has written
    // the file, so the test waits for that line, not for the file.
    // The lines of the forwarder to SECOND's sink that say `what`.
    const auto second_lines_with = [&](const char* what) {
        std::size_t n = 0;
        std::istringstream lines(gw.log());
        for (std::string line; std::getline(lines, line);)
            if (line.find("forward second#") != std::string::npos && line.find(what) != std::string::npos) ++n;
        return n;
    };
    REQUIRE(gwtest::store(gw.port, {warm_up}, "SECOND").acked.size() == 1);
    REQUIRE(gwtest::wait_for_files(from_memory.dir / "in", 1, 30s));
    REQUIRE(testsupport::wait_until([&] { return second_lines_with(" delivered ") == 1; }, 30s));
    // The same instances again: de-identification is deterministic, so the outputs are the same.
    REQUIRE(gwtest::store(gw.port, paths, "SECOND").acked.size() == paths.size());
    REQUIRE(gwtest::wait_for_files(from_memory.dir / "in", paths.size() + 1, 30s));
    std::map<std::string, std::string> written;  // SOP Instance UID -> the gateway's output
    for (const auto& f : gwtest::files_under(gw.state() + "/outbox")) written[gwtest::read_attributes(f).sop_uid] = f;
    REQUIRE(written.size() == paths.size());
    std::size_t compared = 0;
    for (const auto& got : gwtest::files_under(from_memory.dir / "in")) {
        const std::string uid = gwtest::read_attributes(got).sop_uid;
        if (!written.count(uid)) continue;  // the warm-up instance
        ++compared;
        CHECK(transfer_syntax_of(got) == transfer_syntax_of(written[uid]));
        CHECK(dataset_bytes(got) == dataset_bytes(written[uid]));
    }
    CHECK(compared == paths.size());
    // Sent from memory (the forwarder says so when it logs the delivery): no output file was made.
    testsupport::wait_until([&] { return second_lines_with("from memory") >= paths.size(); }, 10s);
    CHECK(second_lines_with("from memory") >= paths.size());
}

TEST_CASE("send as stored: through the gateway, the peer gets the data sets the gateway wrote, byte for byte") {
    testsupport::TempDir src;
    const std::string rle = write_ct(src / "rle", 64, true);
    const std::vector<std::string> paths = {write_ct(src / "small", 64, false), write_ct(src / "large", 512, false),
                                            write_sr(src.path()), rle};
    Sink sink({"+B", "+xa"});
    // The folder destination copies the gateway's output file as it is: what the gateway wrote.
    gwtest::Gateway gw(nlohmann::json{
        {"destinations", nlohmann::json::array({{{"name", "research"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", sink.port}},
                                                {{"name", "outbox"}, {"directory", "outbox"}}})}});
    REQUIRE(gw.start());
    const auto sent = gwtest::store(gw.port, {paths[0], paths[1], paths[2]});
    INFO(sent.run.output);
    REQUIRE(sent.acked.size() == 3);
    // storescu proposes RLE only when told to (-xr); it cannot decompress it.
    const auto rle_sent = gwtest::parse_storescu(testsupport::run(
        gwtest::with_shim({"storescu", "-v", "-nh", "-xr", "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1",
                           std::to_string(gw.port), rle}),
        60s));
    INFO(rle_sent.run.output);
    REQUIRE(rle_sent.acked.size() == 1);
    INFO(gw.log());
    REQUIRE(gwtest::wait_for_files(sink.dir / "in", paths.size(), 30s));
    REQUIRE(gwtest::wait_for_files(gw.state() + "/outbox", paths.size(), 30s));
    std::map<std::string, std::string> written;  // SOP Instance UID -> the gateway's output
    for (const auto& f : gwtest::files_under(gw.state() + "/outbox")) written[gwtest::read_attributes(f).sop_uid] = f;
    REQUIRE(written.size() == paths.size());
    for (const auto& got : gwtest::files_under(sink.dir / "in")) {
        const std::string uid = gwtest::read_attributes(got).sop_uid;
        INFO(uid);
        REQUIRE(written.count(uid) == 1);
        CHECK(transfer_syntax_of(got) == transfer_syntax_of(written[uid]));
        CHECK(dataset_bytes(got) == dataset_bytes(written[uid]));
    }
}

namespace {

// The gateway's quarantine entries: reason.json path -> its fields.
std::map<std::string, nlohmann::json> quarantined(const gwtest::Gateway& gw) {
    std::map<std::string, nlohmann::json> out;
    for (const auto& f : gwtest::files_under(gw.state() + "/spool/quarantine"))
        if (fs::path(f).filename() == "reason.json")
            out[f] = nlohmann::json::parse(testsupport::read_file(f), nullptr, false);
    return out;
}

// Deliveries the gateway logged for `destination` (after the peer's response, so after storescp
// wrote its file).
size_t delivered(const gwtest::Gateway& gw, const std::string& destination) {
    std::istringstream in(gw.log());
    size_t n = 0;
    for (std::string line; std::getline(in, line);)
        n += line.find("forward " + destination + "#") != std::string::npos &&
             line.find(": delivered ") != std::string::npos;
    return n;
}

}  // namespace

TEST_CASE("send as stored: third-party corpus files through the gateway arrive as the gateway wrote them") {
    const std::string corpus = std::string(DEID_SOURCE_DIR) + "/tests/data/corpus/";
    // Well-formed files of tests/data/corpus/FILES.tsv, each with the storescu option that proposes
    // its own transfer syntax (so the gateway receives, and writes, the file's syntax).
    const std::vector<std::pair<std::string, std::string>> inputs = {
        {"pydicom/CT_small.dcm", "-xe"},                    // private tags, trailing padding
        {"pydicom/MR_small_bigendian.dcm", "-xb"},          // explicit big endian
        {"pydicom/ExplVR_BigEnd.dcm", "-xb"},               // big endian US, group lengths
        {"pydicom/MR_small_implicit.dcm", "-xi"},           // implicit VR
        {"pydicom/rtplan.dcm", "-xi"},                      // implicit VR, nested sequences
        {"pydicom/MR_small_RLE.dcm", "-xr"},                // encapsulated
        {"pydicom/SC_rgb_rle_2frame.dcm", "-xr"},           // encapsulated, two frames
        {"pydicom/MR_small_jpeg_ls_lossless.dcm", "-xt"},   // JPEG-LS lossless
        {"pydicom/SC_rgb_jpeg_dcmtk.dcm", "-xy"},           // JPEG baseline
        {"pydicom/charset_files/chrJapMulti.dcm", "-xe"},   // ISO 2022 IR 87, group lengths
        {"pydicom/charset_files/chrRuss.dcm", "-xe"},       // ISO_IR 144
        {"pydicom/charset_files/chrH32.dcm", "-xe"},        // ISO 2022 IR 13 and 87
        {"dcm_qa/philips_vanderbilt_dti_0016.dcm", "-xe"},  // Philips private sequences of undefined length
        {"dcm_qa/nih_GE_MR750_epi-00001.dcm", "-xe"},       // GE private tags, group lengths
        {"pydicom-data/emri_small.dcm", "-xe"},             // enhanced MR, ten frames
        {"pydicom/test-SR.dcm", "-xe"},                     // comprehensive SR
    };
    Sink sink({"+B", "+xa"});
    gwtest::Gateway gw(nlohmann::json{
        {"destinations", nlohmann::json::array({{{"name", "research"}, {"ae_title", "SINK"}, {"host", "127.0.0.1"}, {"port", sink.port}},
                                                {{"name", "outbox"}, {"directory", "outbox"}}})}});
    REQUIRE(gw.start());
    const std::string outbox = gw.state() + "/outbox";
    // Each output sent again by a StoreScu of the test's own, to say which path the forwarder took.
    Sink direct_sink({"+B", "+xa"});
    dimse::StoreScu direct(to(direct_sink));
    // One file at a time, each waited for, so that what happened is known per file.
    std::string summary;
    for (const auto& [name, propose] : inputs) {
        // The MR_small files share one SOP Instance UID (so do the chrJapMulti and chrFren pairs):
        // their outputs have the same name at both destinations, so each file's are looked at alone.
        for (const auto& f : gwtest::files_under(outbox)) fs::remove(f);
        for (const auto& f : gwtest::files_under(sink.dir / "in")) fs::remove(f);
        const auto quarantine_before = quarantined(gw);
        const size_t research_before = delivered(gw, "research"), outbox_delivered_before = delivered(gw, "outbox");
        const auto sent = gwtest::parse_storescu(testsupport::run(
            gwtest::with_shim({"storescu", "-v", "-nh", propose, "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1",
                               std::to_string(gw.port), corpus + name}),
            60s));
        INFO(name << ": " << sent.run.output);
        // Each destination is done with the instance when it delivered it or quarantined it (as
        // do the receive and de-identification stages, for all destinations).
        std::map<std::string, nlohmann::json> entries;
        bool research_delivered = false, outbox_delivered = false;
        const auto quarantined_for = [&](const std::string& d) {
            for (const auto& [f, j] : entries)
                if (j.value("destination", "").empty() || j.value("destination", "") == d) return true;
            return false;
        };
        const auto end = std::chrono::steady_clock::now() + 20s;
        for (;;) {
            entries.clear();
            for (const auto& [f, j] : quarantined(gw))
                if (!quarantine_before.count(f) && j.is_object()) entries[f] = j;
            research_delivered = delivered(gw, "research") > research_before;
            outbox_delivered = delivered(gw, "outbox") > outbox_delivered_before;
            const bool research_done = research_delivered || quarantined_for("research");
            const bool outbox_done = outbox_delivered || quarantined_for("outbox");
            if ((research_done && outbox_done) || (sent.acked.empty() && !entries.empty()) ||
                std::chrono::steady_clock::now() > end)
                break;
            std::this_thread::sleep_for(100ms);
        }
        std::string outcome;
        for (const auto& [f, j] : entries)
            outcome += " quarantined " + j.value("reason", "") + " (stage " + j.value("stage", "") + ", destination '" +
                       j.value("destination", "") + "': " + j.value("detail", "") + ");";
        std::map<std::string, std::string> written;  // SOP Instance UID -> the gateway's output
        for (const auto& f : gwtest::files_under(outbox)) written[gwtest::read_attributes(f).sop_uid] = f;
        const std::vector<std::string> arrived = gwtest::files_under(sink.dir / "in");
        for (const auto& got : arrived) {
            const std::string uid = gwtest::read_attributes(got).sop_uid;
            INFO(outcome);
            CHECK(written.count(uid) == 1);
            if (!written.count(uid)) continue;
            const std::string ts_got = transfer_syntax_of(got), ts_written = transfer_syntax_of(written[uid]);
            const bool same_bytes = ts_got == ts_written && dataset_bytes(got) == dataset_bytes(written[uid]);
            const auto again = send(direct, written[uid], From::parsed);
            CHECK(again.kind == dimse::SendResult::Kind::Sent);
            outcome += " arrived at both" + std::string(same_bytes ? ", byte-identical" : ", NOT byte-identical") +
                       (ts_got == ts_written ? "" : " (received in " + ts_got + ", written in " + ts_written + ")") +
                       (again.as_stored ? ", as stored;" : ", encoded by DIMSE;");
            INFO(outcome);
            CHECK(ts_got == ts_written);
            CHECK(same_bytes);
            // Encoded again by DIMSE, the values must still be the gateway's.
            if (ts_got != ts_written) CHECK(dataset_values(got) == dataset_values(written[uid]));
        }
        if (sent.acked.empty()) outcome += " not acknowledged;";
        if (outcome.empty()) outcome = " lost;";
        summary += name + ":" + outcome + "\n";
        INFO(outcome);
        // Acknowledged, it reached each destination or was quarantined for it with a reason;
        // refused, the gateway quarantined it.
        if (sent.acked.size() == 1) {
            CHECK(((research_delivered && arrived.size() == 1) || quarantined_for("research")));
            CHECK(((outbox_delivered && written.size() == 1) || quarantined_for("outbox")));
        } else {
            CHECK_FALSE(entries.empty());
        }
        for (const auto& [f, j] : entries) CHECK_FALSE(j.value("reason", "").empty());
    }
    WARN(summary);
}
