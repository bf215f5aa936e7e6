// DICOM TLS to destinations (issue 14): the gateway as a TLS client with mutual authentication to
// DCMTK storescp +tls and to Orthanc (DicomTlsEnabled), and a destination whose certificate does
// not verify (another CA, a wrong server_name): refused with a log line, the instances queued, and
// delivered once the destination presents a good certificate. Certificates are made here with
// the openssl command line.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// One private PKI for the whole file (tests/support/make-test-pki.sh): ca signs server (the research
// PACS, localhost), client (the gateway), wrong-name (another host); other-ca signs other-server and
// other-client.
struct Pki {
    testsupport::TempDir dir;
    std::string crt(const std::string& name) const { return dir / (name + ".crt"); }
    std::string key(const std::string& name) const { return dir / (name + ".key"); }
};

const Pki& pki() {
    static const Pki p;
    static const bool made = [] {
        const auto r = testsupport::run({std::string(DEID_SOURCE_DIR) + "/tests/support/make-test-pki.sh", p.dir.path()},
                                        120s);
        return r.exit_code == 0;
    }();
    REQUIRE(made);
    return p;
}

// storescp +tls on a fixed port, requiring a client certificate from the site CA.
struct TlsStoreScp {
    testsupport::TempDir dir;
    int port = testsupport::free_port();
    testsupport::Child child;
    TlsStoreScp() { fs::create_directories(folder()); }
    std::string folder() const { return dir / "in"; }
    void start(const std::string& server_cert) {
        if (child.pid() > 0) child.stop();
        child = testsupport::Child(with_shim({"storescp", "--fork", "-aet", "SINK", "-od", folder(), "+tls",
                                              pki().key(server_cert), pki().crt(server_cert), "+cf",
                                              pki().crt("ca"), "-rc", std::to_string(port)}),
                                   dir / ("storescp-" + server_cert + ".log"));
        REQUIRE(testsupport::wait_for_port(port));
    }
};

json tls_destination(int port, const std::string& ae, const json& tls_overrides = json::object()) {
    json tls = {{"certificate", pki().crt("client")},
                {"private_key", pki().key("client")},
                {"trusted_certificates", pki().crt("ca")},
                {"server_name", "localhost"}};
    for (auto it = tls_overrides.begin(); it != tls_overrides.end(); ++it) tls[it.key()] = it.value();
    return {{"name", "research"}, {"ae_title", ae}, {"host", "127.0.0.1"}, {"port", port}, {"associations", 2},
            {"tls", tls}};
}

std::vector<std::string> paths(const std::vector<testdata::Written>& written) {
    std::vector<std::string> out;
    for (auto& w : written) out.push_back(w.path);
    return out;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

bool wait_for_log(const Gateway& gw, const std::string& needle, std::size_t times, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (count_of(gw.log(), needle) >= times) return true;
        std::this_thread::sleep_for(100ms);
    }
    return false;
}

void check_deidentified(const std::vector<std::string>& received, const testdata::StudySpec& spec,
                        const std::vector<testdata::Written>& written) {
    std::set<std::string> patients;
    for (const auto& f : received) {
        // storescp writes under the final name: a file just listed may still be arriving.
        Attributes a = read_attributes(f);
        for (int i = 0; i < 100 && a.sop_uid.empty(); ++i) {
            std::this_thread::sleep_for(50ms);
            a = read_attributes(f);
        }
        REQUIRE_FALSE(a.sop_uid.empty());
        CHECK(a.patient_id != spec.patient_id);
        CHECK(a.patient_name.find("DOE") == std::string::npos);
        CHECK(a.study_uid != spec.study_uid);
        for (const auto& w : written) CHECK(a.sop_uid != w.sop_instance_uid);
        patients.insert(a.patient_id);
    }
    CHECK(patients.size() == 1);
}

}  // namespace

TEST_CASE("the gateway sends a study over TLS with mutual authentication to storescp +tls") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 4}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    TlsStoreScp pacs;
    pacs.start("server");
    Gateway gw(json{{"destinations", json::array({tls_destination(pacs.port, "SINK")})}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, paths(written)).acked.size() == written.size());
    INFO(gw.log());
    REQUIRE(wait_for_files(pacs.folder(), written.size(), 30s));
    check_deidentified(files_under(pacs.folder()), spec, written);
    CHECK(gw.log().find("TLS handshake failed") == std::string::npos);
}

TEST_CASE("the gateway without its client certificate is refused by a storescp that requires one, and queues") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    TlsStoreScp pacs;
    pacs.start("server");
    Gateway gw(json{{"destinations", json::array({tls_destination(pacs.port, "SINK", {{"certificate", ""}, {"private_key", ""}})})}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, paths(written)).acked.size() == written.size());
    INFO(gw.log());
    // With TLS 1.3 the client's handshake completes before the server checks for a certificate:
    // the gateway sees the association dropped, pauses the destination and keeps the instances.
    REQUIRE(wait_for_log(gw, "destination paused", 2, 30s));
    CHECK(testsupport::read_file(pacs.dir / "storescp-server.log").find("peer did not return a certificate") !=
          std::string::npos);
    CHECK(files_under(pacs.folder()).empty());
    CHECK(files_under(gw.state() + "/spool/quarantine").empty());
    CHECK(files_under(gw.state() + "/spool/outgoing/research").size() == written.size());
}

TEST_CASE("a destination whose certificate does not verify is refused and its instances queue until it presents a "
          "good one") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 3}};
    const auto written = testdata::write_study(src.path(), spec);
    TlsStoreScp pacs;
    pacs.start("other-server");  // signed by a CA the gateway does not trust
    Gateway gw(json{{"destinations", json::array({tls_destination(pacs.port, "SINK")})},
                    {"retry", {{"base_ms", 100}, {"cap_ms", 400}, {"max_attempts", 2}}}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, paths(written)).acked.size() == written.size());
    INFO(gw.log());
    // Refused with a line that says why; nothing delivered, nothing quarantined or dropped, even
    // after more failed handshakes than retry.max_attempts.
    REQUIRE(wait_for_log(gw, "TLS handshake failed", 3, 30s));
    CHECK(gw.log().find("certificate verify failed") != std::string::npos);
    CHECK(files_under(pacs.folder()).empty());
    CHECK(files_under(gw.state() + "/spool/quarantine").empty());
    CHECK(files_under(gw.state() + "/spool/outgoing/research").size() == written.size());

    // The right CA but another name than destinations[].tls.server_name: refused too.
    const std::size_t before = count_of(gw.log(), "TLS handshake failed");
    pacs.start("wrong-name");
    REQUIRE(wait_for_log(gw, "TLS handshake failed", before + 3, 30s));
    CHECK(files_under(pacs.folder()).empty());
    CHECK(files_under(gw.state() + "/spool/quarantine").empty());
    CHECK(files_under(gw.state() + "/spool/outgoing/research").size() == written.size());

    // A good certificate: everything queued is delivered.
    pacs.start("server");
    REQUIRE(wait_for_files(pacs.folder(), written.size(), 30s));
    check_deidentified(files_under(pacs.folder()), spec, written);
    CHECK(files_under(gw.state() + "/spool/quarantine").empty());
}

TEST_CASE("a client certificate replaced on disk plus SIGHUP is used by the next association") {
    testsupport::TempDir src, tls;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    const std::string crt = tls / "client.crt", key = tls / "client.key";
    auto install = [&](const std::string& name) {
        fs::copy_file(pki().crt(name), crt, fs::copy_options::overwrite_existing);
        fs::copy_file(pki().key(name), key, fs::copy_options::overwrite_existing);
        chmod(key.c_str(), 0600);
    };
    install("other-client");  // a certificate the PACS does not trust
    TlsStoreScp pacs;
    pacs.start("server");
    Gateway gw(json{{"destinations",
                     json::array({tls_destination(pacs.port, "SINK", {{"certificate", crt}, {"private_key", key}})})}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, paths(written)).acked.size() == written.size());
    INFO(gw.log());
    REQUIRE(wait_for_log(gw, "destination paused", 2, 30s));  // refused by the PACS, queued
    CHECK(files_under(pacs.folder()).empty());
    // The site's certificate replaces it on disk; SIGHUP: the next association uses it.
    install("client");
    gw.child.signal(SIGHUP);
    REQUIRE(wait_for_log(gw, "certificates and key read again", 1, 10s));
    REQUIRE(wait_for_files(pacs.folder(), written.size(), 30s));
    check_deidentified(files_under(pacs.folder()), spec, written);
    CHECK(files_under(gw.state() + "/spool/quarantine").empty());
}

TEST_CASE("a destination TLS key readable by others is refused at start, naming the key path") {
    const std::string loose = pki().dir / "loose.key";
    fs::copy_file(pki().key("client"), loose, fs::copy_options::overwrite_existing);
    chmod(loose.c_str(), 0644);
    Gateway gw(json{{"destinations", json::array({tls_destination(testsupport::free_port(), "SINK", {{"private_key", loose}})})}});
    gw.write_config();
    const auto r = testsupport::run({kGateway, "serve", "--config", gw.dir / "config.json"}, 30s);
    INFO(r.output);
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("destinations[0].tls") != std::string::npos);
    CHECK(r.output.find("loose.key") != std::string::npos);
}

namespace {

// Orthanc 1.10 as the research PACS over DICOM TLS, requiring the gateway's certificate.
json tls_orthanc_config() {
    return {{"DicomTlsEnabled", true},
            {"DicomTlsCertificate", pki().crt("server")},
            {"DicomTlsPrivateKey", pki().key("server")},
            {"DicomTlsTrustedCertificates", pki().crt("ca")},
            {"DicomTlsRemoteCertificateRequired", true}};
}

}  // namespace

TEST_CASE("Orthanc with DicomTlsEnabled as the research PACS receives the study de-identified over mutual TLS") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 3}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    Orthanc orthanc(tls_orthanc_config());
    Gateway gw(json{{"destinations", json::array({tls_destination(orthanc.dicom_port, "RESEARCH")})}});
    REQUIRE(gw.start());
    REQUIRE(store(gw.port, paths(written)).acked.size() == written.size());
    json instances;
    for (int i = 0; i < 300; ++i) {
        instances = orthanc.get("/instances");
        if (instances.is_array() && instances.size() >= written.size()) break;
        std::this_thread::sleep_for(100ms);
    }
    INFO(gw.log());
    INFO(testsupport::read_file(orthanc.dir / "orthanc.log"));
    REQUIRE(instances.is_array());
    REQUIRE(instances.size() == written.size());
    std::set<std::string> patient_ids;
    for (const auto& id : instances) {
        const json tags = orthanc.get("/instances/" + id.get<std::string>() + "/tags?simplify");
        REQUIRE(tags.is_object());
        CHECK(tags.value("PatientID", "") != spec.patient_id);
        CHECK(tags.value("PatientName", "").find("DOE") == std::string::npos);
        CHECK(tags.value("StudyInstanceUID", "") != spec.study_uid);
        patient_ids.insert(tags.value("PatientID", ""));
    }
    CHECK(patient_ids.size() == 1);
    // Plain DICOM to the same port does not get in (the port speaks TLS only).
    const auto plain = store(orthanc.dicom_port, {written[0].path}, "MODALITY", 30s);
    CHECK(plain.acked.empty());
}
