// Runs `deid-gateway serve` and DCMTK peers (storescu, storescp) for the gateway's integration
// tests, on loopback with ephemeral ports, all stopped by pid.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/Process.h"

namespace gwtest {

extern const std::string kGateway;
extern const std::string kShim;  // LD_PRELOAD TCP_NODELAY shim for the DCMTK tools

// `env LD_PRELOAD=shim` + argv
std::vector<std::string> with_shim(std::vector<std::string> argv);

struct Gateway {
    testsupport::TempDir dir;
    int port = testsupport::free_port();
    nlohmann::json config;
    testsupport::Child child;

    // `overrides` merge over a fast test config (state under dir, retries of 100..800 ms).
    explicit Gateway(const nlohmann::json& overrides = nlohmann::json::object());
    std::string write_config();  // returns its path
    bool start();
    std::string log() const { return testsupport::read_file(dir / "gateway.log"); }
    std::string state() const { return dir / "state"; }
    testsupport::RunResult quarantine(const std::vector<std::string>& args) const;
};

struct StoreScp {
    testsupport::TempDir dir;
    int port = testsupport::free_port();
    testsupport::Child child;
    explicit StoreScp(bool start_now = true);
    void start();
    std::string folder() const { return dir / "in"; }
};

// Orthanc 1.10 as the research PACS (AE RESEARCH) on ephemeral ports, started at once; `extra` keys
// are added to its configuration (DicomTls*, say). Stopped by its process id when destroyed.
struct Orthanc {
    testsupport::TempDir dir;
    int dicom_port = testsupport::free_port();
    int http_port = testsupport::free_port();
    testsupport::Child child;
    explicit Orthanc(const nlohmann::json& extra = nlohmann::json::object());
    nlohmann::json get(const std::string& path) const;  // a REST GET; null when the answer is not JSON
};

// storescu -v to the gateway; `acked` gets the files answered Success.
struct StoreResult {
    testsupport::RunResult run;
    std::set<std::string> acked;
    int failures = 0;  // responses other than Success
};
StoreResult store(int port, const std::vector<std::string>& files, const std::string& calling_ae = "MODALITY",
                  std::chrono::seconds limit = std::chrono::seconds(120));
StoreResult parse_storescu(const testsupport::RunResult& r);

// Every regular file under `dir`.
std::vector<std::string> files_under(const std::string& dir);
bool wait_for_files(const std::string& dir, size_t count, std::chrono::seconds limit);
bool contains_bytes(const std::string& path, const std::string& needle);

struct Attributes {
    std::string patient_id, patient_name, study_uid, series_uid, sop_uid;
    int instance_number = 0;
};
Attributes read_attributes(const std::string& path);

}  // namespace gwtest
