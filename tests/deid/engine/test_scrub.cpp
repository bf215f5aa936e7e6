// deid-gateway scrub end to end: real binary, real keystore broker (started by scrub).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "tests/support/Process.h"

namespace fs = std::filesystem;

namespace {
void write_instance(const std::string& path, const std::string& sop_instance, const std::string& name) {
    DcmFileFormat f;
    DcmDataset& d = *f.getDataset();
    d.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.7");
    d.putAndInsertString(DCM_SOPInstanceUID, sop_instance.c_str());
    d.putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1125.7.1");
    d.putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1125.7.2");
    d.putAndInsertString(DCM_PatientName, name.c_str());
    d.putAndInsertString(DCM_PatientID, "SCRUB-4242");
    d.putAndInsertString(DCM_StudyDate, "20200202");
    d.putAndInsertString(DCM_Modality, "OT");
    d.putAndInsertString(DCM_ConversionType, "WSD");
    REQUIRE(f.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}
}  // namespace

TEST_CASE("scrub: folders recursively, outputs named by new UID, malformed inputs fail cleanly") {
    testsupport::TempDir tmp;
    fs::create_directories(tmp / "in/sub");
    write_instance(tmp / "in/a.dcm", "1.2.826.0.1.3680043.2.1125.7.10", "SCRUBBY^ALICE");
    write_instance(tmp / "in/sub/b.dcm", "1.2.826.0.1.3680043.2.1125.7.11", "SCRUBBY^ALICE");
    testsupport::write_file(tmp / "in/sub/broken.dcm", "DICM? no.");
    testsupport::write_file(tmp / "cfg.json",
                            R"({"state_dir": ")" + tmp.path() + R"(/var", "profile": {"options": ["retain_long_modified_dates"]}})");
    auto r = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                               "--out", tmp / "out", tmp / "in"},
                              std::chrono::seconds(60));
    INFO(r.output);
    CHECK(r.exit_code == 1);  // one input failed
    CHECK(r.output.find("scrubbed 2, rejected 0, failed 1") != std::string::npos);
    CHECK(r.output.find("broken.dcm: malformed") != std::string::npos);
    CHECK(r.output.find("SCRUBBY") == std::string::npos);
    CHECK(r.output.find("SCRUB-4242") == std::string::npos);
    std::vector<std::string> names;
    for (auto& e : fs::directory_iterator(tmp / "out")) names.push_back(e.path().filename().string());
    REQUIRE(names.size() == 2);
    for (const std::string& n : names) {
        CHECK(n.rfind("2.25.", 0) == 0);
        CHECK(n.size() > 4);
        CHECK(n.substr(n.size() - 4) == ".dcm");
        CHECK(n.find("1.2.826.0.1.3680043.2.1125.7") == std::string::npos);
        DcmFileFormat f;
        REQUIRE(f.loadFile((tmp / "out/" + n).c_str()).good());
        OFString sop, pn;
        f.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop);
        f.getDataset()->findAndGetOFString(DCM_PatientName, pn);
        CHECK(n == std::string(sop.c_str()) + ".dcm");
        CHECK(std::string(pn.c_str()).find("SCRUBBY") == std::string::npos);
    }

    // Only valid inputs: exit 0.
    fs::remove(tmp / "in/sub/broken.dcm");
    r = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                          "--out", tmp / "out2", tmp / "in"},
                         std::chrono::seconds(60));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("scrubbed 2, rejected 0, failed 0") != std::string::npos);
}

TEST_CASE("scrub: parallel workers write every output once, leave no temporary file, DCMTK messages only at debug") {
    testsupport::TempDir tmp;
    fs::create_directories(tmp / "in");
    for (int i = 0; i < 8; ++i)
        write_instance(tmp / ("in/" + std::to_string(i) + ".dcm"), "1.2.826.0.1.3680043.2.1125.7." + std::to_string(20 + i),
                       "SCRUBBY^ALICE");
    // Truncated inside its data set: DCMTK reports a parse error of its own.
    write_instance(tmp / "whole.dcm", "1.2.826.0.1.3680043.2.1125.7.99", "SCRUBBY^ALICE");
    const std::string whole = testsupport::read_file(tmp / "whole.dcm");
    testsupport::write_file(tmp / "in/truncated.dcm", whole.substr(0, whole.size() - 7));
    for (const std::string level : {"info", "debug"}) {
        testsupport::write_file(tmp / "cfg.json", R"({"state_dir": ")" + tmp.path() + R"(/var", "workers": 3, "log": {"level": ")" +
                                                      level + R"("}})");
        const std::string out = tmp / ("out-" + level);
        auto r = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                                   "--out", out, tmp / "in"},
                                  std::chrono::seconds(60));
        INFO(level << "\n" << r.output);
        CHECK(r.exit_code == 1);
        CHECK(r.output.find("scrubbed 8, rejected 0, failed 1") != std::string::npos);
        CHECK(r.output.find("truncated.dcm: malformed") != std::string::npos);
        const bool dcmtk_message = r.output.find("E: ") != std::string::npos || r.output.find("W: ") != std::string::npos;
        CHECK(dcmtk_message == (level == "debug"));
        CHECK(r.output.find("SCRUBBY") == std::string::npos);
        std::set<std::string> names;
        for (auto& e : fs::directory_iterator(out)) names.insert(e.path().filename().string());
        CHECK(names.size() == 8);  // eight distinct outputs, no .partial or temporary file
        for (const std::string& n : names) CHECK(n.rfind("2.25.", 0) == 0);
    }
}

TEST_CASE("scrub: 30 inputs of which 8 repeat a SOP Instance UID keep the first of each, name every collision") {
    testsupport::TempDir tmp;
    fs::create_directories(tmp / "in");
    // 22 distinct instances (in-00 .. in-21), then 8 more (in-22 .. in-29) that reuse the UIDs of
    // in-00 .. in-07 with other content (another patient name), as a re-export or a copy would.
    auto uid = [](int i) { return "1.2.826.0.1.3680043.2.1125.8." + std::to_string(100 + i); };
    auto name = [](int i) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "in-%02d.dcm", i);
        return std::string(buf);
    };
    for (int i = 0; i < 22; ++i) write_instance(tmp / ("in/" + name(i)), uid(i), "SCRUBBY^FIRST");
    for (int i = 22; i < 30; ++i) write_instance(tmp / ("in/" + name(i)), uid(i - 22), "SCRUBBY^SECOND");
    testsupport::write_file(tmp / "cfg.json", R"({"state_dir": ")" + tmp.path() + R"(/var", "workers": 3})");
    const auto r = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                                     "--out", tmp / "out", tmp / "in"},
                                    std::chrono::seconds(120));
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.find("scrubbed 22, rejected 0, failed 8 (duplicate-sop-instance-uid 8)") != std::string::npos);
    for (int i = 22; i < 30; ++i)
        CHECK(r.output.find("failed: " + (tmp / ("in/" + name(i))) + ": duplicate-sop-instance-uid: the same SOP Instance UID as " +
                            (tmp / ("in/" + name(i - 22)))) != std::string::npos);
    CHECK(r.output.find("SCRUBBY") == std::string::npos);
    std::vector<std::string> outputs;
    for (auto& e : fs::directory_iterator(tmp / "out")) outputs.push_back(e.path().string());
    REQUIRE(outputs.size() == 22);
    // Each output is the first input with its UID: the pseudonymised name of FIRST, never SECOND.
    // (Names are replaced by the patient's pseudonym, so compare them with a first-only run.)
    fs::create_directories(tmp / "first");
    for (int i = 0; i < 22; ++i) fs::copy_file(tmp / ("in/" + name(i)), tmp / ("first/" + name(i)));
    const auto r2 = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                                      "--out", tmp / "out-first", tmp / "first"},
                                     std::chrono::seconds(120));
    REQUIRE(r2.exit_code == 0);
    for (const auto& o : outputs) {
        const std::string twin = tmp / ("out-first/" + fs::path(o).filename().string());
        REQUIRE(fs::exists(twin));
        CHECK(testsupport::read_file(o) == testsupport::read_file(twin));
    }
}

TEST_CASE("scrub: on a terminal, progress is shown on stderr and the summary counts outcomes") {
    testsupport::TempDir tmp;
    fs::create_directories(tmp / "in");
    for (int i = 0; i < 5; ++i)
        write_instance(tmp / ("in/" + std::to_string(i) + ".dcm"), "1.2.826.0.1.3680043.2.1125.9." + std::to_string(i),
                       "SCRUBBY^ALICE");
    testsupport::write_file(tmp / "in/broken.dcm", "DICM? no.");
    testsupport::write_file(tmp / "cfg.json", R"({"state_dir": ")" + tmp.path() + R"(/var"})");
    const std::string command = std::string(DEID_BIN_DIR) + "/deid-gateway scrub --config " + (tmp / "cfg.json") +
                                " --out " + (tmp / "out") + " " + (tmp / "in");
    // script(1) runs it on a pseudo-terminal.
    const auto tty = testsupport::run({"script", "-qefc", command, "/dev/null"}, std::chrono::seconds(60));
    INFO(tty.output);
    CHECK(tty.output.find("\r\033[K6/6 (scrubbed 5, rejected 0, failed 1)") != std::string::npos);
    CHECK(tty.output.find("scrubbed 5, rejected 0, failed 1 (malformed 1)") != std::string::npos);
    // Not on a terminal: no progress line.
    const auto plain = testsupport::run({"sh", "-c", command + " 2>&1 | cat"}, std::chrono::seconds(60));
    CHECK(plain.output.find("\r") == std::string::npos);
    CHECK(plain.output.find("scrubbed 5, rejected 0, failed 1 (malformed 1)") != std::string::npos);
}

TEST_CASE("scrub: a third-party file whose study date the patient's shift moves onto its private sequence date is clean") {
    // dcm_qa/nih_GE_MR750_epi-00001.dcm: study dates 20180918, GE PulseSequenceDate (0019,109d)
    // 20171017. A keystore that gives every patient -336 days moves the first onto the second.
    testsupport::TempDir tmp;
    testsupport::write_file(tmp / "cfg.json", R"({"state_dir": ")" + tmp.path() +
                                                  R"(/var", "keystore": {"date_offset_min_days": -336, "date_offset_max_days": -336}})");
    const std::string input = std::string(DEID_TEST_DATA) + "/corpus/dcm_qa/nih_GE_MR750_epi-00001.dcm";
    auto r = testsupport::run({std::string(DEID_BIN_DIR) + "/deid-gateway", "scrub", "--config", tmp / "cfg.json",
                               "--out", tmp / "out", input},
                              std::chrono::seconds(60));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(r.output.find("scrubbed 1, rejected 0, failed 0") != std::string::npos);
    std::vector<fs::path> outputs;
    for (auto& e : fs::directory_iterator(tmp / "out")) outputs.push_back(e.path());
    REQUIRE(outputs.size() == 1);
    DcmFileFormat f;
    REQUIRE(f.loadFile(outputs[0].c_str()).good());
    OFString study_date;
    f.getDataset()->findAndGetOFString(DCM_StudyDate, study_date);
    CHECK(std::string(study_date.c_str()) == "20171017");
}
