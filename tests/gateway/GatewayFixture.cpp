#include "tests/gateway/GatewayFixture.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

namespace gwtest {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kGateway = std::string(DEID_BIN_DIR) + "/deid-gateway";
const std::string kShim = std::string(DEID_SHIM_PATH);

std::vector<std::string> with_shim(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"env", "LD_PRELOAD=" + kShim});
    return argv;
}

namespace {
void merge(json& base, const json& over) {
    for (auto it = over.begin(); it != over.end(); ++it) {
        if (base.contains(it.key()) && base[it.key()].is_object() && it.value().is_object())
            merge(base[it.key()], it.value());
        else
            base[it.key()] = it.value();
    }
}
}  // namespace

Gateway::Gateway(const json& overrides) {
    config = {{"state_dir", dir / "state"},
              {"workers", 2},
              {"listen", {{"port", port}, {"dimse_timeout_seconds", 20}}},
              {"retry", {{"base_ms", 100}, {"cap_ms", 800}, {"max_attempts", 5}}},
              {"shutdown_timeout_seconds", 5},
              // Off unless a test asks for it (tests/http): 11180 may be taken on a shared machine.
              {"http", {{"port", 0}}},
              {"destinations", json::array({{{"name", "outbox"}, {"directory", dir / "outbox"}}})}};
    merge(config, overrides);
}

std::string Gateway::write_config() {
    testsupport::write_file(dir / "config.json", config.dump(2));
    return dir / "config.json";
}

bool Gateway::start() {
    write_config();
    child = testsupport::Child({kGateway, "serve", "--config", dir / "config.json"}, dir / "gateway.log");
    return testsupport::wait_for_port(port);
}

testsupport::RunResult Gateway::quarantine(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kGateway, "quarantine", "--config", dir / "config.json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testsupport::run(argv, std::chrono::seconds(20));
}

StoreScp::StoreScp(bool start_now) {
    fs::create_directories(folder());
    if (start_now) start();
}

void StoreScp::start() {
    // free_port() was free a moment ago; another test may have taken it since. A storescp that could
    // not bind exits at once: then try another port, so that no test sends to someone else's peer.
    for (int attempt = 0; attempt < 3; ++attempt) {
        child = testsupport::Child(with_shim({"storescp", "--fork", "-aet", "SINK", "-od", folder(), std::to_string(port)}),
                                   dir / "storescp.log");
        if (testsupport::wait_for_port(port) && child.running()) return;
        child.stop();
        port = testsupport::free_port();
    }
}

Orthanc::Orthanc(const nlohmann::json& extra) {
    nlohmann::json config = {{"Name", "research-pacs"},
                             {"DicomAet", "RESEARCH"},
                             {"DicomPort", dicom_port},
                             {"HttpPort", http_port},
                             {"StorageDirectory", dir / "storage"},
                             {"IndexDirectory", dir / "index"},
                             {"RemoteAccessAllowed", false},
                             {"AuthenticationEnabled", false},
                             {"DicomAlwaysAllowStore", true},
                             {"DicomCheckCalledAet", false},
                             {"Plugins", nlohmann::json::array()}};
    config.update(extra);
    testsupport::write_file(dir / "orthanc.json", config.dump(2));
    child = testsupport::Child(with_shim({"Orthanc", dir / "orthanc.json"}), dir / "orthanc.log");
    testsupport::wait_for_port(http_port, std::chrono::milliseconds(30000));
    testsupport::wait_for_port(dicom_port, std::chrono::milliseconds(30000));
}

nlohmann::json Orthanc::get(const std::string& path) const {
    const auto r = testsupport::run(
        {"curl", "-s", "--max-time", "10", "http://127.0.0.1:" + std::to_string(http_port) + path},
        std::chrono::seconds(20));
    return nlohmann::json::parse(r.output, nullptr, false);
}

StoreResult parse_storescu(const testsupport::RunResult& r) {
    StoreResult out;
    out.run = r;
    std::istringstream in(r.output);
    std::string line, current;
    while (std::getline(in, line)) {
        const std::string sending = "I: Sending file: ";
        if (line.rfind(sending, 0) == 0) current = line.substr(sending.size());
        if (line.find("Received Store Response") != std::string::npos) {
            if (line.find("(Success)") != std::string::npos) out.acked.insert(current);
            else ++out.failures;
        }
    }
    return out;
}

StoreResult store(int port, const std::vector<std::string>& files, const std::string& calling_ae,
                  std::chrono::seconds limit) {
    std::vector<std::string> argv = {"storescu", "-v", "-nh", "-aet", calling_ae, "-aec", "DEIDGW", "127.0.0.1",
                                     std::to_string(port)};
    argv.insert(argv.end(), files.begin(), files.end());
    return parse_storescu(testsupport::run(with_shim(argv), limit));
}

std::vector<std::string> files_under(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file() && it->path().filename().string()[0] != '.') out.push_back(it->path().string());
    return out;
}

bool wait_for_files(const std::string& dir, size_t count, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (files_under(dir).size() >= count) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return files_under(dir).size() >= count;
}

bool contains_bytes(const std::string& path, const std::string& needle) {
    return testsupport::read_file(path).find(needle) != std::string::npos;
}

Attributes read_attributes(const std::string& path) {
    Attributes a;
    DcmFileFormat f;
    if (f.loadFile(path.c_str()).bad()) return a;
    DcmDataset* ds = f.getDataset();
    OFString v;
    if (ds->findAndGetOFString(DCM_PatientID, v).good()) a.patient_id = v.c_str();
    if (ds->findAndGetOFString(DCM_PatientName, v).good()) a.patient_name = v.c_str();
    if (ds->findAndGetOFString(DCM_StudyInstanceUID, v).good()) a.study_uid = v.c_str();
    if (ds->findAndGetOFString(DCM_SeriesInstanceUID, v).good()) a.series_uid = v.c_str();
    if (ds->findAndGetOFString(DCM_SOPInstanceUID, v).good()) a.sop_uid = v.c_str();
    Sint32 n = 0;
    if (ds->findAndGetSint32(DCM_InstanceNumber, n).good()) a.instance_number = n;
    return a;
}

}  // namespace gwtest
