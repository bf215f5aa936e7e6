#include "deid/InstanceDeidentifier.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <vector>

#include <boost/date_time/gregorian/gregorian.hpp>
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>

#include "deid/Verifier.h"
#include "tests/support/MemoryPseudonymSource.h"
#include "tests/support/Process.h"

namespace fs = std::filesystem;
using deid::Outcome;

namespace {

config::Config make_config(const std::string& dir, const std::string& profile_json) {
    return config::parse(R"({"profile": )" + profile_json + "}", dir);
}

void write_ct(const std::string& path, const char* sop_instance = "1.2.826.0.1.3680043.2.1125.9.1",
              Uint16 size = 2) {
    DcmFileFormat f;
    DcmDataset& d = *f.getDataset();
    d.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
    if (sop_instance) d.putAndInsertString(DCM_SOPInstanceUID, sop_instance);
    d.putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.2.1125.9.2");
    d.putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.2.1125.9.3");
    d.putAndInsertString(DCM_PatientName, "ROE^JANE");
    d.putAndInsertString(DCM_PatientID, "PID-778899");
    d.putAndInsertString(DCM_PatientBirthDate, "19711203");
    d.putAndInsertString(DCM_StudyDate, "20210105");
    d.putAndInsertString(DCM_AccessionNumber, "ACC5566");
    d.putAndInsertString(DCM_InstitutionName, "SAINT ELSEWHERE");
    d.putAndInsertString(DCM_StudyDescription, "CT HEAD for JANE ROE");
    d.putAndInsertString(DCM_Modality, "CT");
    d.putAndInsertString(DCM_Manufacturer, "ACME");
    d.putAndInsertUint16(DCM_Rows, size);
    d.putAndInsertUint16(DCM_Columns, size);
    d.putAndInsertUint16(DCM_BitsAllocated, 16);
    d.putAndInsertUint16(DCM_BitsStored, 16);
    d.putAndInsertUint16(DCM_HighBit, 15);
    d.putAndInsertUint16(DCM_PixelRepresentation, 0);
    d.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    d.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    std::vector<Uint16> px(std::size_t{size} * size, 0);
    for (std::size_t i = 0; i < 4 && i < px.size(); ++i) px[i] = static_cast<Uint16>(10 * (i + 1));
    d.putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
    REQUIRE(f.saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
}

}  // namespace

TEST_CASE("instance: a good file is de-identified, verified and written atomically") {
    testsupport::TempDir tmp;
    write_ct(tmp / "in.dcm");
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(
        make_config(tmp.path(), R"({"options": ["retain_long_modified_dates", "clean_descriptors"]})"), src);
    Outcome o = deidentifier.process_file(tmp / "in.dcm", tmp / "out.dcm");
    INFO(o.reason << ": " << o.detail);
    REQUIRE(o.kind == Outcome::Kind::Clean);
    CHECK(o.sop_instance_uid == src.uid("1.2.826.0.1.3680043.2.1125.9.1"));
    CHECK(o.modality == "CT");
    CHECK(o.transfer_syntax_uid == "1.2.840.10008.1.2.1");
    DcmFileFormat out;
    REQUIRE(out.loadFile((tmp / "out.dcm").c_str()).good());
    OFString v;
    out.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, v);
    CHECK(std::string(v.c_str()) == o.sop_instance_uid);
    out.getDataset()->findAndGetOFString(DCM_StudyDescription, v);
    CHECK(std::string(v.c_str()) == "CT HEAD for [removed]");
    // Nothing else left behind in the folder (no temporary files).
    int files = 0;
    for (auto& e : fs::directory_iterator(tmp.path())) { (void)e; ++files; }
    CHECK(files == 2);
}

TEST_CASE("instance: malformed input is quarantined, never written, never thrown") {
    testsupport::TempDir tmp;
    testsupport::write_file(tmp / "garbage.dcm", "this is not DICOM at all");
    write_ct(tmp / "nouid.dcm", nullptr);
    // A truncated file: the first part of a real one.
    write_ct(tmp / "whole.dcm");
    std::string whole = testsupport::read_file(tmp / "whole.dcm");
    testsupport::write_file(tmp / "truncated.dcm", whole.substr(0, 200));
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(make_config(tmp.path(), R"({"options": []})"), src);
    for (const char* name : {"garbage.dcm", "nouid.dcm", "truncated.dcm", "missing.dcm"}) {
        Outcome o = deidentifier.process_file(tmp / name, tmp / "out.dcm");
        INFO(name << " " << o.detail);
        CHECK(o.kind == Outcome::Kind::Quarantined);
        CHECK(o.reason == "malformed");
        CHECK(o.detail.find("ROE") == std::string::npos);
        CHECK_FALSE(fs::exists(tmp / "out.dcm"));
    }
}

TEST_CASE("instance: non-standard VR codes and values that break their VR (IS, DS, UI) are malformed - sloppy dates are not") {
    testsupport::TempDir tmp;
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(make_config(tmp.path(), R"({"options": []})"), src);
    auto edit = [&](const std::string& name, const std::function<void(DcmDataset&)>& change) {
        write_ct(tmp / "base.dcm");
        DcmFileFormat f;
        REQUIRE(f.loadFile((tmp / "base.dcm").c_str()).good());
        change(*f.getDataset());
        REQUIRE(f.saveFile((tmp / name).c_str(), EXS_LittleEndianExplicit).good());
    };
    edit("bad_is.dcm", [](DcmDataset& d) { d.putAndInsertString(DCM_NumberOfFrames, "1A"); });
    edit("bad_ds.dcm", [](DcmDataset& d) { d.putAndInsertString(DCM_SliceThickness, "2,5"); });
    edit("bad_nested_ui.dcm", [](DcmDataset& d) {
        DcmItem* item = nullptr;
        REQUIRE(d.findOrCreateSequenceItem(DCM_ReferencedImageSequence, item).good());
        item->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
        item->putAndInsertString(DCM_ReferencedSOPInstanceUID, "dccc9599087131742838cc1162a630fe");
    });
    for (const char* name : {"bad_is.dcm", "bad_ds.dcm", "bad_nested_ui.dcm"}) {
        Outcome o = deidentifier.process_file(tmp / name, tmp / "out.dcm");
        INFO(name << " " << o.detail);
        CHECK(o.kind == Outcome::Kind::Quarantined);
        CHECK(o.reason == "malformed");
        CHECK(o.detail.find("dccc") == std::string::npos);  // the tag is named, never the value
        CHECK_FALSE(fs::exists(tmp / "out.dcm"));
    }
    // A non-standard VR code (two zero bytes instead of "LO" for Manufacturer): DCMTK reads it as
    // an unknown element with a 2-byte length and goes on; the instance is malformed all the same.
    write_ct(tmp / "vr.dcm");
    std::string bytes = testsupport::read_file(tmp / "vr.dcm");
    const std::string manufacturer("\x08\x00\x70\x00LO", 6);
    const std::size_t at = bytes.find(manufacturer);
    REQUIRE(at != std::string::npos);
    bytes[at + 4] = '\0';
    bytes[at + 5] = '\0';
    testsupport::write_file(tmp / "bad_vr_code.dcm", bytes);
    Outcome bad_vr = deidentifier.process_file(tmp / "bad_vr_code.dcm", tmp / "out.dcm");
    INFO(bad_vr.detail);
    CHECK(bad_vr.reason == "malformed");
    CHECK(bad_vr.detail == "non-standard VR code in (0008,0070)");
    CHECK_FALSE(fs::exists(tmp / "out.dcm"));

    // Old ACR-NEMA date/time forms and a UID component with a leading zero are not rejected.
    edit("sloppy.dcm", [](DcmDataset& d) {
        d.putAndInsertString(DCM_StudyDate, "2021.01.05");
        d.putAndInsertString(DCM_StudyTime, "14:04:38");
        d.putAndInsertString(DCM_FrameOfReferenceUID, "1.2.123.456.0123.4567");
        d.putAndInsertString(DCM_SliceThickness, " 2.5 ");
    });
    Outcome o = deidentifier.process_file(tmp / "sloppy.dcm", tmp / "out.dcm");
    INFO(o.reason << ": " << o.detail);
    CHECK(o.kind == Outcome::Kind::Clean);

    // DS values next to the plain decimals the scan accepts by itself: the others still go to
    // DCMTK's checker, which decides.
    for (const char* bad : {"1.2.3", "--5", "5-", "-", "12345678901234567", "1.0\\x"}) {
        edit("ds.dcm", [&](DcmDataset& d) { d.putAndInsertString(DCM_SliceThickness, bad); });
        Outcome b = deidentifier.process_file(tmp / "ds.dcm", tmp / "out.dcm");
        INFO(bad << " -> " << b.reason << ": " << b.detail);
        CHECK(b.reason == "malformed");
    }
    for (const char* good : {"-174\\-174\\-5", "0.68\\0.68", "1e3", "+2.5", ".5", "1.", "1.0\\\\2", "-0.000001"}) {
        edit("ds.dcm", [&](DcmDataset& d) { d.putAndInsertString(DCM_SliceThickness, good); });
        Outcome g = deidentifier.process_file(tmp / "ds.dcm", tmp / "out.dcm");
        INFO(good << " -> " << g.reason << ": " << g.detail);
        CHECK(g.kind == Outcome::Kind::Clean);
    }
}

TEST_CASE("instance: without durable writes the output is still written atomically") {
    testsupport::TempDir tmp;
    write_ct(tmp / "in.dcm");
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(make_config(tmp.path(), R"({"options": []})"), src);
    deidentifier.set_durable_writes(false);
    Outcome o = deidentifier.process_file(tmp / "in.dcm", tmp / "out.dcm");
    INFO(o.reason << ": " << o.detail);
    REQUIRE(o.kind == Outcome::Kind::Clean);
    DcmFileFormat out;
    CHECK(out.loadFile((tmp / "out.dcm").c_str()).good());
    int files = 0;
    for (auto& e : fs::directory_iterator(tmp.path())) { (void)e; ++files; }
    CHECK(files == 2);  // no temporary file left behind
}

TEST_CASE("instance: rejection rules refuse with the configured reason - source outage means retry") {
    testsupport::TempDir tmp;
    write_ct(tmp / "in.dcm");
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier rejecting(
        make_config(tmp.path(), R"({"options": [], "reject": [{"when": {"modality": ["CT"]}, "reason": "no CT please"}]})"), src);
    Outcome o = rejecting.process_file(tmp / "in.dcm", tmp / "out.dcm");
    CHECK(o.kind == Outcome::Kind::Rejected);
    CHECK(o.detail == "no CT please");
    CHECK_FALSE(fs::exists(tmp / "out.dcm"));

    deid::InstanceDeidentifier deidentifier(make_config(tmp.path(), R"({"options": []})"), src);
    src.unavailable = true;
    o = deidentifier.process_file(tmp / "in.dcm", tmp / "out.dcm");
    CHECK(o.kind == Outcome::Kind::Retry);
    CHECK_FALSE(fs::exists(tmp / "out.dcm"));
}

TEST_CASE("instance: a site rule that keeps an identifying value is caught by the verifier") {
    testsupport::TempDir tmp;
    write_ct(tmp / "in.dcm");
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(
        make_config(tmp.path(), R"({"options": [], "rules": [{"tag": "AccessionNumber", "action": "keep"}]})"), src);
    Outcome o = deidentifier.process_file(tmp / "in.dcm", tmp / "out.dcm");
    CHECK(o.kind == Outcome::Kind::Quarantined);
    CHECK(o.reason == "leak");
    CHECK(o.detail.find("ACC5566") == std::string::npos);
    CHECK_FALSE(fs::exists(tmp / "out.dcm"));
}

TEST_CASE("instance: an input parsed already gives the same output as the file, and is what was written") {
    testsupport::TempDir tmp;
    write_ct(tmp / "in.dcm");
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(
        make_config(tmp.path(), R"({"options": ["retain_long_modified_dates", "clean_descriptors"]})"), src);
    deidentifier.set_durable_writes(false);
    deidentifier.set_write_in_place(true);
    REQUIRE(deidentifier.process_file(tmp / "in.dcm", tmp / "from_file.dcm").kind == Outcome::Kind::Clean);

    // As the gateway's reception parses it: whole, values in memory.
    auto parsed = std::make_unique<DcmFileFormat>();
    const DcmFileFormat* const parsed_address = parsed.get();
    REQUIRE(parsed->loadFile((tmp / "in.dcm").c_str(), EXS_Unknown, EGL_noChange, OFstatic_cast(Uint32, -1)).good());
    REQUIRE(parsed->loadAllDataIntoMemory().good());
    std::unique_ptr<DcmFileFormat> file = std::move(parsed);
    const Outcome o = deidentifier.process(file, "/nonexistent/not-read.dcm", tmp / "from_memory.dcm");
    INFO(o.reason << ": " << o.detail);
    REQUIRE(o.kind == Outcome::Kind::Clean);
    CHECK(file.get() == parsed_address);  // de-identified in place
    const std::string written = testsupport::read_file(tmp / "from_memory.dcm");
    CHECK(written == testsupport::read_file(tmp / "from_file.dcm"));
    CHECK(o.output_bytes == written.size());
    OFString v;
    file->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, v);
    CHECK(std::string(v.c_str()) == o.sop_instance_uid);

    // Null: read from the path, and handed back.
    std::unique_ptr<DcmFileFormat> none;
    REQUIRE(deidentifier.process(none, tmp / "in.dcm", tmp / "again.dcm").kind == Outcome::Kind::Clean);
    REQUIRE(none);
    CHECK(testsupport::read_file(tmp / "again.dcm") == written);
}

TEST_CASE("instance: the in-place write gives saveFile's bytes, for outputs larger than its buffer and over a longer file") {
    for (const Uint16 size : {Uint16{2}, Uint16{64}, Uint16{300}}) {  // 8 B, 8 KiB and 176 KiB of pixels
        INFO("rows and columns: " << size);
        testsupport::TempDir tmp;
        write_ct(tmp / "in.dcm", "1.2.826.0.1.3680043.2.1125.9.1", size);
        testsupport::MemoryPseudonymSource src;
        deid::InstanceDeidentifier deidentifier(
            make_config(tmp.path(), R"({"options": ["retain_long_modified_dates", "clean_descriptors"]})"), src);
        deidentifier.set_durable_writes(false);
        REQUIRE(deidentifier.process_file(tmp / "in.dcm", tmp / "saved.dcm").kind == Outcome::Kind::Clean);
        {
            // What the path held before (a longer file) is cut off.
            std::ofstream old(tmp / "in_place.dcm", std::ios::binary);
            old << std::string(400 * 1024, 'x');
        }
        deidentifier.set_write_in_place(true);
        const Outcome o = deidentifier.process_file(tmp / "in.dcm", tmp / "in_place.dcm");
        INFO(o.reason << ": " << o.detail);
        REQUIRE(o.kind == Outcome::Kind::Clean);
        const std::string saved = testsupport::read_file(tmp / "saved.dcm");
        const std::string in_place = testsupport::read_file(tmp / "in_place.dcm");
        CHECK(saved.size() > std::size_t{size} * size * 2);
        CHECK(in_place.size() == saved.size());
        CHECK(in_place == saved);
        CHECK(o.output_bytes == in_place.size());
    }
}

namespace {

// The memory source, but every patient gets the same date shift.
class FixedShiftSource : public testsupport::MemoryPseudonymSource {
public:
    explicit FixedShiftSource(int days) : days_(days) {}
    deid::PseudonymReply resolve(const deid::PseudonymRequest& request) override {
        deid::PseudonymReply r = MemoryPseudonymSource::resolve(request);
        r.date_offset_days = days_;
        return r;
    }

private:
    int days_;
};

long day_number(const std::string& yyyymmdd) {
    return boost::gregorian::date(std::stoi(yyyymmdd.substr(0, 4)), std::stoi(yyyymmdd.substr(4, 2)),
                                  std::stoi(yyyymmdd.substr(6, 2)))
        .day_number();
}

}  // namespace

TEST_CASE("instance: third-party files stay clean when the patient's shift moves one original date onto another") {
    // Found in dcm_qa/nih_GE_MR750_epi-00001.dcm: its study dates (20180918) shifted by -336 days are
    // its GE private sequence date (20171017), and the verifier took the shift for a leak. Here every
    // file of the corpus is de-identified with each shift that moves one of its dates onto another
    // (up to 8 per file), and each output must still be clean, with the coincidence in it.
    const std::string options =
        R"({"options": ["retain_long_modified_dates", "retain_patient_characteristics", "retain_safe_private",)"
        R"( "clean_descriptors", "clean_structured_content", "clean_graphics"]})";
    int files = 0, shifts = 0, coincidences = 0;
    bool ge_case = false;
    for (const auto& entry : fs::recursive_directory_iterator(std::string(DEID_TEST_DATA) + "/corpus")) {
        if (!entry.is_regular_file()) continue;
        const std::string name = entry.path().filename().string();
        DcmFileFormat original;
        if (original.loadFile(entry.path().c_str()).bad()) continue;
        const deid::Identifiers ids = deid::collect_identifiers(original);
        std::set<std::string> dates;
        for (const auto& [path, values] : ids.dates_at)
            for (const std::string& d : values)
                if (!d.empty()) dates.insert(d);
        std::set<long> offsets;
        for (const std::string& a : dates)
            for (const std::string& b : dates)
                if (a != b && offsets.size() < 8) offsets.insert(day_number(b) - day_number(a));
        if (offsets.empty()) continue;
        testsupport::TempDir tmp;
        {
            testsupport::MemoryPseudonymSource src;
            deid::InstanceDeidentifier baseline(make_config(tmp.path(), options), src);
            baseline.set_durable_writes(false);
            if (baseline.process_file(entry.path(), tmp / "baseline.dcm").kind != Outcome::Kind::Clean) continue;
        }
        ++files;
        for (const long days : offsets) {
            INFO(name << " shifted by " << days << " days");
            FixedShiftSource src(static_cast<int>(days));
            deid::InstanceDeidentifier deidentifier(make_config(tmp.path(), options), src);
            deidentifier.set_durable_writes(false);
            const Outcome o = deidentifier.process_file(entry.path(), tmp / "out.dcm");
            INFO(o.reason << ": " << o.detail);
            CHECK(o.kind == Outcome::Kind::Clean);
            if (o.kind != Outcome::Kind::Clean) continue;
            ++shifts;
            // The output holds an original date, at a path where the original had another one.
            DcmFileFormat out;
            REQUIRE(out.loadFile((tmp / "out.dcm").c_str()).good());
            const deid::Identifiers written = deid::collect_identifiers(out);
            bool coincidence = false;
            for (const auto& [path, values] : written.dates_at) {
                auto was = ids.dates_at.find(path);
                for (std::size_t i = 0; i < values.size(); ++i)
                    coincidence = coincidence || (dates.count(values[i]) && was != ids.dates_at.end() &&
                                                  i < was->second.size() && was->second[i] != values[i]);
            }
            coincidences += coincidence;
            ge_case = ge_case || (name == "nih_GE_MR750_epi-00001.dcm" && days == -336 && coincidence);
        }
    }
    INFO(files << " files, " << shifts << " clean shifts, " << coincidences << " with an original date moved onto another");
    CHECK(files >= 10);
    CHECK(coincidences >= 10);
    CHECK(ge_case);
}
