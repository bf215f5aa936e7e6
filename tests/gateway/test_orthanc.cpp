// The research PACS is a real Orthanc (Debian package), started with its own config and database.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;

TEST_CASE("Orthanc as the research PACS shows the instances de-identified under one pseudonymous patient") {
    testsupport::TempDir src;
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", "1.2.840.10008.5.1.4.1.1.2", 3}, testdata::Series{"MR", "1.2.840.10008.5.1.4.1.1.4", 2}};
    const auto written = testdata::write_study(src.path(), spec);
    Orthanc orthanc;
    Gateway gw(json{{"destinations", json::array({{{"name", "research"}, {"ae_title", "RESEARCH"}, {"host", "127.0.0.1"},
                                                   {"port", orthanc.dicom_port}, {"associations", 2}}})}});
    REQUIRE(gw.start());
    std::vector<std::string> files;
    for (auto& w : written) files.push_back(w.path);
    const auto sent = store(gw.port, files);
    REQUIRE(sent.acked.size() == written.size());

    json instances;
    for (int i = 0; i < 150; ++i) {
        instances = orthanc.get("/instances");
        if (instances.is_array() && instances.size() >= written.size()) break;
        std::this_thread::sleep_for(100ms);
    }
    INFO(gw.log());
    REQUIRE(instances.is_array());
    REQUIRE(instances.size() == written.size());
    std::set<std::string> patient_ids, studies;
    for (const auto& id : instances) {
        const json tags = orthanc.get("/instances/" + id.get<std::string>() + "/tags?simplify");
        REQUIRE(tags.is_object());
        const std::string pid = tags.value("PatientID", "");
        const std::string name = tags.value("PatientName", "");
        CHECK(pid != spec.patient_id);
        CHECK(name.find("DOE") == std::string::npos);
        CHECK(tags.value("AccessionNumber", "") != "ACC-0815");
        CHECK(tags.value("StudyInstanceUID", "") != spec.study_uid);
        patient_ids.insert(pid);
        studies.insert(tags.value("StudyInstanceUID", ""));
        for (const auto& w : written) CHECK(tags.value("SOPInstanceUID", "") != w.sop_instance_uid);
    }
    CHECK(patient_ids.size() == 1);
    CHECK_FALSE(patient_ids.begin()->empty());
    CHECK(studies.size() == 1);
    const json patients = orthanc.get("/patients");
    CHECK(patients.size() == 1);
}
