#include "dimse/StoreScp.h"

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <regex>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "dimse/DimseStatus.h"
#include "dimse/InstanceInfo.h"
#include "dimse/NoDelayTransportLayer.h"
#include "tests/dimse/TestInstances.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using testsupport::run;

namespace {

// Keeps each received file and answers a fixed status.
class RecordingHandler : public dimse::CStoreHandler {
public:
    explicit RecordingHandler(std::string keep_dir, std::uint16_t status = dimse::DimseStatus::Success)
        : keep_dir_(std::move(keep_dir)), status_(status) {}
    std::uint16_t handle_store(dimse::CStoreRequest& r) override {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string kept = keep_dir_ + "/" + std::to_string(requests.size() + 1) + ".dcm";
        std::filesystem::rename(r.file_path, kept);
        requests.push_back(std::move(r));
        requests.back().file_path = kept;
        return status_;
    }
    std::vector<dimse::CStoreRequest> requests;

private:
    std::mutex mutex_;
    std::string keep_dir_;
    std::uint16_t status_;
};

struct Scp {
    testsupport::TempDir dir;
    std::vector<std::string> logs;
    std::mutex log_mutex;
    RecordingHandler handler;
    dimse::StoreScp scp;
    explicit Scp(std::vector<std::string> allowed = {}, std::uint16_t status = dimse::DimseStatus::Success,
                 int acse_timeout_seconds = 30, std::function<void(const std::string&)> prepare_receive_file = {})
        : handler(dir.path(), status),
          scp(settings(std::move(allowed), acse_timeout_seconds, std::move(prepare_receive_file)), handler) {
        REQUIRE_FALSE(scp.start());
    }
    dimse::ScpSettings settings(std::vector<std::string> allowed, int acse_timeout_seconds,
                                std::function<void(const std::string&)> prepare_receive_file) {
        dimse::ScpSettings s;
        s.prepare_receive_file = std::move(prepare_receive_file);
        s.ae_title = "DEIDGW";
        s.bind = "127.0.0.1";
        s.port = 0;
        s.allowed_calling_ae = std::move(allowed);
        s.receive_dir = dir.path();
        s.dimse_timeout_seconds = 10;
        s.acse_timeout_seconds = acse_timeout_seconds;
        // Every client here comes from 127.0.0.1; the per-host limits have their own tests
        // (test_hostile_clients.cpp), these are about concurrency.
        s.limits.connections_per_host = 96;
        s.limits.associations_per_host = 64;
        s.log = [this](dimse::LogLevel, const std::string& m) {
            std::lock_guard<std::mutex> lock(log_mutex);
            logs.push_back(m);
        };
        return s;
    }
    std::string all_logs() {
        std::lock_guard<std::mutex> lock(log_mutex);
        std::string s;
        for (auto& l : logs) s += l + "\n";
        return s;
    }
};

// A listener on an ephemeral loopback port that hands a received file of up to keep_parsed_bytes
// to its handler parsed.
dimse::ScpSettings parsing_settings(const std::string& receive_dir, std::uint64_t keep_parsed_bytes) {
    dimse::ScpSettings s;
    s.ae_title = "DEIDGW";
    s.bind = "127.0.0.1";
    s.port = 0;
    s.receive_dir = receive_dir;
    s.keep_parsed_bytes = keep_parsed_bytes;
    return s;
}

}  // namespace

TEST_CASE("C-ECHO succeeds and the connection has TCP_NODELAY from our transport layer") {
    Scp scp;
    const long before = dimse::NoDelayTransportLayer::connections_created();
    auto r = run({"echoscu", "-aet", "ANY", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port())}, 20s);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(dimse::NoDelayTransportLayer::connections_created() > before);
}

TEST_CASE("an unknown calling AE and a wrong called AE are refused with their A-ASSOCIATE-RJ reasons") {
    Scp scp({"MODALITY1"});
    auto r = run({"echoscu", "-aet", "STRANGER", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port())}, 20s);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("Calling AE Title Not Recognized") != std::string::npos);
    r = run({"echoscu", "-aet", "MODALITY1", "-aec", "OTHER", "127.0.0.1", std::to_string(scp.scp.port())}, 20s);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("Called AE Title Not Recognized") != std::string::npos);
    r = run({"echoscu", "-aet", "MODALITY1", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port())}, 20s);
    CHECK(r.exit_code == 0);
    const std::string logs = scp.all_logs();
    CHECK(logs.find("calling AE 'STRANGER'") != std::string::npos);
    CHECK(logs.find("refused: calling AE title not recognized") != std::string::npos);
    CHECK(logs.find("refused: called AE title not recognized") != std::string::npos);
}

TEST_CASE("C-STORE hands each data set to the handler as a bit-preserving file in its transfer syntax") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.rle = true;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 1}};
    const auto files = testdata::write_study(src.path(), spec);
    Scp scp;
    std::vector<std::string> argv = {"storescu", "-xr", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port())};
    for (auto& f : files) argv.push_back(f.path);
    auto r = run(argv, 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(scp.handler.requests.size() == 3);
    for (const auto& req : scp.handler.requests) {
        CHECK(req.parsed);
        CHECK(req.calling_ae == "MOD");
        CHECK(req.association_id.rfind("assoc-", 0) == 0);
        CHECK(req.dataset_sop_class_uid == req.affected_sop_class_uid);
        CHECK(req.dataset_sop_instance_uid == req.affected_sop_instance_uid);
        CHECK(req.transfer_syntax_uid == "1.2.840.10008.1.2.5");  // RLE Lossless, as sent
        const auto info = dimse::read_instance_info(req.file_path);
        REQUIRE(info);
        CHECK(info->transfer_syntax_uid == "1.2.840.10008.1.2.5");
        CHECK(info->study_instance_uid == spec.study_uid);
    }
}

namespace {
std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
// The data set of a DICOM file: what follows the file meta group (its length is in (0002,0000)).
std::string data_set_bytes(const std::string& file) {
    REQUIRE(file.size() > 144);
    REQUIRE(file.compare(128, 4, "DICM") == 0);
    REQUIRE(file.compare(132, 4, std::string("\x02\x00\x00\x00", 4)) == 0);
    const auto* p = reinterpret_cast<const unsigned char*>(file.data()) + 140;
    const std::size_t group_length = p[0] | (p[1] << 8) | (p[2] << 16) | (std::size_t(p[3]) << 24);
    return file.substr(144 + group_length);
}

// A small study (the default 16x16) and a large one (256x256: 128 KiB of pixel data), each in a folder of its own.
struct SmallAndLargeStudy {
    testsupport::TempDir small_dir, large_dir;
    std::vector<testdata::Written> small, large;
    SmallAndLargeStudy() {
        small = testdata::write_study(small_dir.path(), testdata::StudySpec{});
        testdata::StudySpec big;
        big.rows = big.columns = 256;
        large = testdata::write_study(large_dir.path(), big);
    }
};
}  // namespace

TEST_CASE("a data set received over a larger recycled file is cut to its own length, its bytes as sent") {
    testsupport::TempDir src;
    const auto files = testdata::write_study(src.path(), testdata::StudySpec{});
    // What Spool::reuse_file_for leaves at the receive path: an older, larger file, not emptied.
    Scp scp({}, dimse::DimseStatus::Success, 30, [](const std::string& path) {
        std::ofstream(path, std::ios::binary) << std::string(4 << 20, '\x5a');
    });
    auto r = run({"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port()),
                  files[0].path}, 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(scp.handler.requests.size() == 1);
    const auto& req = scp.handler.requests[0];
    CHECK(req.parsed);
    const std::string received = read_all(req.file_path);
    CHECK(received.size() == req.file_size);
    CHECK(received.size() < (1u << 20));
    CHECK(data_set_bytes(received) == data_set_bytes(read_all(files[0].path)));
}

TEST_CASE("a receive file that cannot be created is answered A700 and the association goes on") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}};
    const auto files = testdata::write_study(src.path(), spec);
    int calls = 0;
    // The first receive path is taken by a folder: the file cannot be opened for writing.
    Scp scp({}, dimse::DimseStatus::Success, 30, [&calls](const std::string& path) {
        if (++calls == 1) std::filesystem::create_directory(path);
    });
    auto r = run({"storescu", "-v", "--no-halt", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1",
                  std::to_string(scp.scp.port()), files[0].path, files[1].path}, 30s);
    INFO(r.output);
    CHECK(std::regex_search(r.output, std::regex("0xa700|Refused: OutOfResources", std::regex::icase)));
    CHECK(scp.handler.requests.size() == 1);  // the second instance was received and handed on
    CHECK(scp.all_logs().find("answered A700: cannot create the receive file") != std::string::npos);
}

TEST_CASE("a disk that fills up while a data set arrives gets A700 and the association goes on") {
    testsupport::TempDir big_dir, small_dir;
    testdata::StudySpec big;
    big.rows = big.columns = 256;  // 128 KiB of pixel data
    const auto large = testdata::write_study(big_dir.path(), big);
    testdata::StudySpec small;
    small.study_uid = "1.2.826.0.1.3680043.8.498.2";
    const auto little = testdata::write_study(small_dir.path(), small);
    Scp scp;
    // Writes past 64 KiB fail with EFBIG (SIGXFSZ ignored), as they would with ENOSPC on a full disk.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved;
    limit.rlim_cur = 64 * 1024;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    auto r = run({"storescu", "-v", "--no-halt", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1",
                  std::to_string(scp.scp.port()), large[0].path, little[0].path}, 30s);
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
    INFO(r.output);
    INFO(scp.all_logs());
    CHECK(std::regex_search(r.output, std::regex("0xa700|Refused: OutOfResources", std::regex::icase)));
    CHECK(r.output.find("Releasing Association") != std::string::npos);  // not aborted
    REQUIRE(scp.handler.requests.size() == 1);  // the small one, after the failed one
    CHECK(scp.handler.requests[0].dataset_sop_instance_uid == little[0].sop_instance_uid);
    CHECK(scp.all_logs().find("answered A700: cannot write the receive file: File too large") != std::string::npos);
}

TEST_CASE("the handler's status goes back to the sender") {
    testsupport::TempDir src;
    const auto files = testdata::write_study(src.path(), testdata::StudySpec{});
    Scp scp({}, dimse::DimseStatus::RefusedOutOfResources);
    auto r = run({"storescu", "-v", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port()),
                  files[0].path}, 30s);
    INFO(r.output);
    CHECK(std::regex_search(r.output, std::regex("0xa700|Refused: OutOfResources", std::regex::icase)));
    CHECK(scp.handler.requests.size() == 1);
}

TEST_CASE("a request whose data set differs from its command reaches the handler marked as such") {
    testsupport::TempDir src;
    const auto files = testdata::write_study(src.path(), testdata::StudySpec{});
    Scp scp;
    testdata::RawStore how;
    how.port = scp.scp.port();
    how.request_sop_class_uid = "1.2.840.10008.5.1.4.1.1.4";  // MR in the command, CT in the data set
    how.request_sop_instance_uid = files[0].sop_instance_uid;
    CHECK(testdata::raw_store_dataset_of(how, files[0].path, false) == 0);
    how.request_sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    CHECK(testdata::raw_store_dataset_of(how, files[0].path, true) == 0);
    REQUIRE(scp.handler.requests.size() == 2);
    CHECK(scp.handler.requests[0].parsed);
    CHECK(scp.handler.requests[0].dataset_sop_class_uid == "1.2.840.10008.5.1.4.1.1.2");
    CHECK(scp.handler.requests[0].affected_sop_class_uid == "1.2.840.10008.5.1.4.1.1.4");
    CHECK(scp.handler.requests[1].dataset_sop_instance_uid.empty());
}

TEST_CASE("32 associations run at once and a stalled one does not block the others") {
    Scp scp;
    // An association that is open and silent holds one thread until its timeout, nothing more.
    testdata::HeldAssociation stalled("127.0.0.1", scp.scp.port(), "STALLED", "DEIDGW");
    REQUIRE(stalled.open());
    std::vector<testsupport::Child> echoes;
    testsupport::TempDir logs;
    for (int i = 0; i < 32; ++i)
        echoes.emplace_back(std::vector<std::string>{"echoscu", "-aet", "E" + std::to_string(i), "-aec", "DEIDGW",
                                                     "--repeat", "20", "127.0.0.1", std::to_string(scp.scp.port())},
                            logs / std::to_string(i));
    int ok = 0;
    for (auto& e : echoes) ok += e.wait(60s) == 0;
    CHECK(ok == 32);
    CHECK(stalled.open());
}

TEST_CASE("clients that connect and send no (or half an) association request delay nobody else") {
    // The ACSE timeout is far longer than the checks below allow: if the listening thread waited for
    // the silent clients' requests, storescu would be stuck behind them and be stopped by run()'s limit.
    constexpr int acse_timeout_seconds = 120;
    Scp scp({}, dimse::DimseStatus::Success, acse_timeout_seconds);
    boost::asio::io_context io;
    const boost::asio::ip::tcp::endpoint gateway(boost::asio::ip::make_address("127.0.0.1"),
                                                 static_cast<unsigned short>(scp.scp.port()));
    std::vector<boost::asio::ip::tcp::socket> silent;
    for (int i = 0; i < 3; ++i) {
        silent.emplace_back(io);
        silent.back().connect(gateway);
    }
    // One more sends the first bytes of an A-ASSOCIATE-RQ PDU header and stalls.
    silent.emplace_back(io);
    silent.back().connect(gateway);
    const unsigned char partial[] = {0x01, 0x00, 0x00};
    boost::asio::write(silent.back(), boost::asio::buffer(partial));

    testsupport::TempDir src;
    const auto files = testdata::write_study(src.path(), testdata::StudySpec{});
    const auto start = std::chrono::steady_clock::now();
    auto r = run({"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.scp.port()),
                  files[0].path}, 30s);
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(seconds.count() < acse_timeout_seconds / 4);
    CHECK(scp.handler.requests.size() == 1);
    // The silent connections are still waiting (not dropped to make room), each on its own thread.
    CHECK(scp.scp.active_associations() >= 4);
}

TEST_CASE("a received file up to keep_parsed_bytes is handed to the handler parsed, its values in memory") {
    const SmallAndLargeStudy studies;
    const auto& small = studies.small;
    const auto& large = studies.large;
    testsupport::TempDir dir;
    RecordingHandler handler(dir.path());
    dimse::StoreScp scp(parsing_settings(dir.path(), 64 * 1024), handler);
    REQUIRE_FALSE(scp.start());
    auto r = run({"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.port()),
                  small[0].path, large[0].path}, 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(handler.requests.size() == 2);
    const auto& kept = handler.requests[0];
    REQUIRE(kept.dataset);
    std::filesystem::remove(kept.file_path);  // the handler moved the file; its values are in memory
    OFString uid;
    REQUIRE(kept.dataset->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid).good());
    CHECK(std::string(uid.c_str()) == small[0].sop_instance_uid);
    const Uint16* pixels = nullptr;
    CHECK(kept.dataset->getDataset()->findAndGetUint16Array(DCM_PixelData, pixels).good());
    CHECK(pixels != nullptr);
    CHECK_FALSE(handler.requests[1].dataset);  // over 64 KiB: parsed for the checks only
    CHECK(handler.requests[1].parsed);
}

TEST_CASE("a received file over the kept copy's 256 KiB but within keep_parsed_bytes is handed on parsed from its file") {
    testsupport::TempDir src, dir;
    testdata::StudySpec spec;
    spec.rows = spec.columns = 512;  // 512 KiB of pixel data, as a 512x512 CT
    const auto files = testdata::write_study(src.path(), spec);
    RecordingHandler handler(dir.path());
    dimse::StoreScp scp(parsing_settings(dir.path(), 1024 * 1024), handler);
    REQUIRE_FALSE(scp.start());
    auto r = run({"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.port()), files[0].path},
                 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(handler.requests.size() == 1);
    const auto& kept = handler.requests[0];
    REQUIRE(kept.file_size > 256 * 1024);
    REQUIRE(kept.dataset);
    // Its pixel values are in memory and are the ones written: compared with the file read again.
    DcmFileFormat from_file;
    REQUIRE(from_file.loadFile(kept.file_path.c_str()).good());
    REQUIRE(from_file.loadAllDataIntoMemory().good());
    std::filesystem::remove(kept.file_path);  // the handler moved the file; its values are in memory
    const Uint16* pixels = nullptr;
    const Uint16* expected = nullptr;
    unsigned long count = 0, expected_count = 0;
    REQUIRE(kept.dataset->getDataset()->findAndGetUint16Array(DCM_PixelData, pixels, &count).good());
    REQUIRE(from_file.getDataset()->findAndGetUint16Array(DCM_PixelData, expected, &expected_count).good());
    REQUIRE(count == 512ul * 512ul);
    REQUIRE(expected_count == count);
    CHECK(std::equal(pixels, pixels + count, expected));
}

namespace {
// Records what each request held when the handler ran: in memory or in a file, with its bytes.
class MemoryRecordingHandler : public dimse::CStoreHandler {
public:
    struct Seen {
        bool in_memory = false;
        bool file_exists = false;
        bool parsed = false;
        bool has_dataset = false;
        std::uint64_t size = 0;
        std::string bytes;
    };
    std::uint16_t handle_store(dimse::CStoreRequest& r) override {
        Seen s;
        s.in_memory = r.in_memory;
        s.file_exists = std::filesystem::exists(r.file_path);
        s.parsed = r.parsed;
        s.has_dataset = r.dataset != nullptr;
        s.size = r.file_size;
        s.bytes = r.in_memory ? r.data : testsupport::read_file(r.file_path);
        std::lock_guard<std::mutex> lock(mutex_);
        seen.push_back(std::move(s));
        return dimse::DimseStatus::Success;
    }
    std::vector<Seen> seen;

private:
    std::mutex mutex_;
};

std::vector<MemoryRecordingHandler::Seen> receive_with(std::uint64_t memory_bytes, const std::vector<std::string>& files,
                                                       int* prepared = nullptr, std::string* receive_dir_left = nullptr,
                                                       std::uint64_t keep_parsed_bytes = 1024 * 1024) {
    testsupport::TempDir dir;
    MemoryRecordingHandler handler;
    auto settings = parsing_settings(dir.path(), keep_parsed_bytes);
    settings.memory_bytes = memory_bytes;
    auto count = std::make_shared<std::atomic<int>>(0);
    settings.prepare_receive_file = [count](const std::string&) { ++*count; };
    dimse::StoreScp scp(settings, handler);
    REQUIRE_FALSE(scp.start());
    std::vector<std::string> args{"storescu", "-aet", "MOD", "-aec", "DEIDGW", "127.0.0.1", std::to_string(scp.port())};
    args.insert(args.end(), files.begin(), files.end());
    auto r = run(args, 30s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    if (prepared) *prepared = count->load();
    if (receive_dir_left)
        for (const auto& e : std::filesystem::directory_iterator(dir.path())) *receive_dir_left += e.path().filename().string() + " ";
    return handler.seen;
}
}  // namespace

TEST_CASE("a data set within memory_bytes is handed over in memory with no file, byte for byte the receive file, past it, its file") {
    const SmallAndLargeStudy studies;
    const auto& small = studies.small;
    const auto& large = studies.large;
    const std::vector<std::string> files{small[0].path, large[0].path};
    // What a receive file holds, as the reference.
    const auto as_files = receive_with(0, files);
    REQUIRE(as_files.size() == 2);
    CHECK_FALSE(as_files[0].in_memory);
    const std::uint64_t small_size = as_files[0].size;
    REQUIRE(small_size == as_files[0].bytes.size());

    SECTION("the small one in memory, the large one spills into its file from the limit on") {
        int prepared = -1;
        std::string left;
        const auto seen = receive_with(small_size + 1000, files, &prepared, &left);
        REQUIRE(seen.size() == 2);
        CHECK(seen[0].in_memory);
        CHECK_FALSE(seen[0].file_exists);
        CHECK(seen[0].parsed);
        CHECK(seen[0].has_dataset);
        CHECK(seen[0].bytes == as_files[0].bytes);
        CHECK_FALSE(seen[1].in_memory);
        CHECK(seen[1].file_exists);
        CHECK(seen[1].bytes == as_files[1].bytes);
        CHECK(prepared == 1);  // a recycled file is asked for only by the one that spilled
        CHECK(left.empty());   // and its file was removed after the handler, as always
    }
    SECTION("received into memory but over keep_parsed_bytes: parsed from its bytes, not handed on parsed") {
        const auto seen = receive_with(small_size + 1000, {small[0].path}, nullptr, nullptr, 0);
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].in_memory);
        CHECK(seen[0].parsed);
        CHECK_FALSE(seen[0].has_dataset);
        CHECK(seen[0].bytes == as_files[0].bytes);
    }
    SECTION("exactly at the limit it stays in memory; one byte over, it goes to its file whole") {
        auto seen = receive_with(small_size, {small[0].path});
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].in_memory);
        CHECK(seen[0].bytes == as_files[0].bytes);
        seen = receive_with(small_size - 1, {small[0].path});
        REQUIRE(seen.size() == 1);
        CHECK_FALSE(seen[0].in_memory);
        CHECK(seen[0].file_exists);
        CHECK(seen[0].bytes == as_files[0].bytes);
    }
}
