#include "deid/Verifier.h"

#include <algorithm>
#include <memory>

#include <catch2/catch.hpp>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrlo.h>
#include <dcmtk/dcmdata/dcvrobow.h>

namespace {

// The original instance: a CT with identifying values in the usual places and at depth.
const char* kStudyUid = "1.2.826.0.1.3680043.9.7777.20220319.1";
const char* kSeriesUid = "1.2.826.0.1.3680043.9.7777.20220319.2";
const char* kSopUid = "1.2.826.0.1.3680043.9.7777.20220319.3";
const char* kRefUid = "1.2.826.0.1.3680043.9.7777.20220101.9";

std::unique_ptr<DcmFileFormat> make_original() {
    auto ff = std::make_unique<DcmFileFormat>();
    DcmDataset* ds = ff->getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, kSopUid);
    ds->putAndInsertString(DCM_StudyInstanceUID, kStudyUid);
    ds->putAndInsertString(DCM_SeriesInstanceUID, kSeriesUid);
    ds->putAndInsertString(DCM_PatientName, "Doe^Johnathan^Q^^Mr");
    ds->putAndInsertString(DCM_PatientID, "MRN4711");
    ds->putAndInsertString(DCM_IssuerOfPatientID, "STELSEWHERE");
    ds->putAndInsertString(DCM_PatientBirthDate, "19610412");
    ds->putAndInsertString(DCM_AccessionNumber, "ACC99812");
    ds->putAndInsertString(DCM_StudyDate, "20220319");
    ds->putAndInsertString(DCM_AcquisitionDateTime, "20220319101500");
    ds->putAndInsertString(DCM_StudyID, "S1234");
    ds->putAndInsertString(DCM_InstitutionName, "St. Elsewhere General");
    ds->putAndInsertString(DCM_ReferringPhysicianName, "House^Gregory");
    ds->putAndInsertString(DCM_StationName, "CTSTATION7");
    ds->putAndInsertString(DCM_DeviceSerialNumber, "SN-88231");
    ds->putAndInsertString(DCM_DateOfLastCalibration, "20220301");
    ds->putAndInsertString(DCM_Modality, "CT");
    DcmItem* ref = nullptr;
    ds->findOrCreateSequenceItem(DCM_ReferencedImageSequence, ref, 0);
    ref->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
    ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, kRefUid);
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, UID_CTImageStorage);
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, kSopUid);
    ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    return ff;
}

// What a correct engine would produce from it: pseudonym, shifted dates, new UIDs.
std::unique_ptr<DcmFileFormat> make_clean_output() {
    auto ff = std::make_unique<DcmFileFormat>();
    DcmDataset* ds = ff->getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, "2.25.123456789012345678901234567890");
    ds->putAndInsertString(DCM_StudyInstanceUID, "2.25.223456789012345678901234567890");
    ds->putAndInsertString(DCM_SeriesInstanceUID, "2.25.323456789012345678901234567890");
    ds->putAndInsertString(DCM_PatientName, "P7A1B2C3D4");
    ds->putAndInsertString(DCM_PatientID, "P7A1B2C3D4");
    ds->putAndInsertString(DCM_PatientBirthDate, "");
    ds->putAndInsertString(DCM_AccessionNumber, "");
    ds->putAndInsertString(DCM_StudyDate, "20220104");
    ds->putAndInsertString(DCM_AcquisitionDateTime, "20220104101500");
    ds->putAndInsertString(DCM_StudyID, "");
    ds->putAndInsertString(DCM_ReferringPhysicianName, "");
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST W CONTRAST for [removed], MRN [removed]");
    ds->putAndInsertString(DCM_PatientIdentityRemoved, "YES");
    ds->putAndInsertString(DCM_DeidentificationMethod, "PS3.15 2024c E.1-1 Basic Profile");
    ds->putAndInsertString(DCM_SeriesNumber, "1");
    DcmItem* ref = nullptr;
    ds->findOrCreateSequenceItem(DCM_ReferencedImageSequence, ref, 0);
    ref->putAndInsertString(DCM_ReferencedSOPClassUID, UID_CTImageStorage);
    ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, "2.25.423456789012345678901234567890");
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, UID_CTImageStorage);
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, "2.25.123456789012345678901234567890");
    ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    ff->getMetaInfo()->putAndInsertString(DCM_ImplementationClassUID, "1.2.276.0.7230010.3.0.3.6.7");
    return ff;
}

config::Profile basic() { return config::Profile{}; }
config::Profile with(std::vector<std::string> options) {
    config::Profile p;
    p.options = std::move(options);
    return p;
}

bool has_value(const deid::Identifiers& ids, const std::string& text, const std::string& category) {
    return std::any_of(ids.values.begin(), ids.values.end(),
                       [&](const deid::Identifiers::Value& v) { return v.text == text && v.category == category; });
}
bool has_text(const deid::Identifiers& ids, const std::string& text) {
    return std::any_of(ids.values.begin(), ids.values.end(),
                       [&](const deid::Identifiers::Value& v) { return v.text == text; });
}
bool leaked(const deid::VerifyReport& r, const std::string& path, const std::string& category) {
    return std::any_of(r.leaks.begin(), r.leaks.end(),
                       [&](const deid::Leak& l) { return l.tag_path == path && l.category == category; });
}

}  // namespace

TEST_CASE("verifier collects names ids dates UIDs and institution at every depth", "[verifier]") {
    auto original = make_original();
    deid::Identifiers ids = deid::collect_identifiers(*original);
    CHECK(has_value(ids, "DOE", "patient_name"));
    CHECK(has_value(ids, "JOHNATHAN", "patient_name"));
    CHECK(has_value(ids, "DOE JOHNATHAN Q MR", "patient_name"));
    CHECK_FALSE(has_text(ids, "Q"));   // one-character component
    CHECK_FALSE(has_text(ids, "MR"));  // generic title
    CHECK(has_value(ids, "MRN4711", "patient_id"));
    CHECK(has_value(ids, "STELSEWHERE", "issuer"));
    CHECK(has_value(ids, "ACC99812", "accession_number"));
    CHECK(has_value(ids, "19610412", "birth_date"));
    CHECK(has_value(ids, "20220319", "date"));
    CHECK(has_value(ids, "S1234", "study_id"));
    CHECK(has_value(ids, "ST. ELSEWHERE GENERAL", "institution"));
    CHECK(has_value(ids, "HOUSE", "staff_name"));
    CHECK(has_value(ids, "GREGORY", "staff_name"));
    CHECK(has_value(ids, "CTSTATION7", "station"));
    CHECK(has_value(ids, "SN-88231", "device"));
    CHECK(has_value(ids, kStudyUid, "uid"));
    CHECK(has_value(ids, kRefUid, "uid"));  // from inside Referenced Image Sequence
    CHECK_FALSE(has_text(ids, UID_CTImageStorage));
    CHECK_FALSE(has_text(ids, UID_LittleEndianExplicitTransferSyntax));
    CHECK_FALSE(has_text(ids, "CT"));
}

TEST_CASE("verifier passes a correct de-identification with pseudonym and new UIDs", "[verifier]") {
    auto original = make_original();
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    auto report = deid::verify(basic(), ids, *out);
    INFO(report.summary());
    CHECK(report.clean());
    CHECK(report.summary() == "clean");
}

TEST_CASE("verifier finds planted leaks at depth in private elements and file meta by tag only", "[verifier]") {
    auto original = make_original();
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();

    SECTION("a name component in free text") {
        ds->putAndInsertString(DCM_StudyDescription, "CT CHEST for johnathan, see notes");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0008,1030)", "patient_name"));
        CHECK(r.summary().find("(0008,1030)") != std::string::npos);
        CHECK(r.summary().find("JOHNATHAN") == std::string::npos);
        CHECK(r.summary().find("johnathan") == std::string::npos);
    }
    SECTION("an original UID three sequences deep") {
        DcmItem* a = nullptr;
        ds->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, a, 0);
        DcmItem* b = nullptr;
        a->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, b, 1);
        DcmItem* c = nullptr;
        b->findOrCreateSequenceItem(DCM_SourceImageSequence, c, 0);
        c->putAndInsertString(DCM_ReferencedSOPInstanceUID, kRefUid);
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0008,1115)[0]/(0008,114a)[1]/(0008,2112)[0]/(0008,1155)", "uid"));
        CHECK(r.leaks.size() == 1);
    }
    SECTION("a patient id in a private element, and an accession inside a private sequence") {
        ds->putAndInsertString(DcmTag(0x0009, 0x0010, EVR_LO), "ACME PRIVATE");
        ds->putAndInsertString(DcmTag(0x0009, 0x1001, EVR_LO), "ref MRN4711/x");
        DcmItem* item = nullptr;
        ds->findOrCreateSequenceItem(DcmTag(0x0009, 0x1002, EVR_SQ), item, 0);
        item->putAndInsertString(DcmTag(0x0009, 0x1003, EVR_SH), "ACC99812");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0009,1001)", "patient_id"));
        CHECK(leaked(r, "(0009,1002)[0]/(0009,1003)", "accession_number"));
    }
    SECTION("a private element of VR UN holding a name in its bytes") {
        auto* un = new DcmOtherByteOtherWord(DcmTag(0x0011, 0x1010, EVR_UN));
        const std::string bytes = std::string("\x01\x02\x00", 3) + "DOE^JOHNATHAN" + std::string("\x00\x07", 2);
        un->putUint8Array(reinterpret_cast<const Uint8*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
        ds->insert(un);
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0011,1010)", "patient_name"));
    }
    SECTION("the original SOP Instance UID kept in the file meta header") {
        out->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, kSopUid);
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0002,0003)", "uid"));
    }
    SECTION("dates: kept DA, date part of a DT, written forms in text") {
        ds->putAndInsertString(DCM_SeriesDate, "20220319");
        ds->putAndInsertString(DCM_AcquisitionDateTime, "20220319101500.000000");
        ds->putAndInsertString(DCM_ImageComments, "prior 03/19/2022; born 1961-04-12");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0008,0021)", "date"));
        CHECK(leaked(r, "(0008,002a)", "date"));
        CHECK(leaked(r, "(0020,4000)", "date"));
        CHECK(leaked(r, "(0020,4000)", "birth_date"));
    }
    SECTION("staff, institution, device and station values") {
        ds->putAndInsertString(DCM_OperatorsName, "House^Gregory");
        ds->putAndInsertString(DCM_InstitutionAddress, "st. elsewhere general, 1 main street");
        ds->putAndInsertString(DCM_StationName, "CTSTATION7");
        ds->putAndInsertString(DCM_DeviceSerialNumber, "SN-88231");
        ds->putAndInsertString(DCM_StudyID, "S1234");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0008,1070)", "staff_name"));
        CHECK(leaked(r, "(0008,0081)", "institution"));
        CHECK(leaked(r, "(0008,1010)", "station"));
        CHECK(leaked(r, "(0018,1000)", "device"));
        CHECK(leaked(r, "(0020,0010)", "study_id"));
    }
}

TEST_CASE("verifier does not report categories kept on purpose by an option", "[verifier]") {
    auto original = make_original();
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();
    ds->putAndInsertString(DCM_StudyInstanceUID, kStudyUid);
    ds->putAndInsertString(DCM_StudyDate, "20220319");
    ds->putAndInsertString(DCM_InstitutionName, "St. Elsewhere General");
    ds->putAndInsertString(DCM_StationName, "CTSTATION7");
    ds->putAndInsertString(DCM_DeviceSerialNumber, "SN-88231");
    ds->putAndInsertString(DCM_DateOfLastCalibration, "20220301");

    auto all = deid::verify(basic(), ids, *out);
    CHECK(leaked(all, "(0020,000d)", "uid"));
    CHECK(leaked(all, "(0008,0020)", "date"));
    CHECK(leaked(all, "(0008,0080)", "institution"));
    CHECK(leaked(all, "(0008,1010)", "station"));
    CHECK(leaked(all, "(0018,1000)", "device"));
    CHECK(leaked(all, "(0018,1200)", "date"));

    auto kept = deid::verify(with({"retain_uids", "retain_long_full_dates", "retain_institution_identity",
                                   "retain_device_identity"}),
                             ids, *out);
    INFO(kept.summary());
    CHECK(kept.clean());

    // Device identity alone keeps the calibration date where it is, but not the study date.
    auto device = deid::verify(with({"retain_device_identity"}), ids, *out);
    CHECK_FALSE(leaked(device, "(0018,1200)", "date"));
    CHECK(leaked(device, "(0008,0020)", "date"));
    // Modified dates are not kept dates: an unshifted date is still a leak.
    auto modified = deid::verify(with({"retain_long_modified_dates"}), ids, *out);
    CHECK(leaked(modified, "(0008,0020)", "date"));
}

TEST_CASE("verifier has no false positives from short ids or digits inside UIDs or coincidental dates", "[verifier]") {
    auto original = make_original();
    DcmDataset* ods = original->getDataset();
    ods->putAndInsertString(DCM_PatientID, "1");
    ods->putAndInsertString(DCM_StudyID, "12");
    auto ids = deid::collect_identifiers(*original);
    CHECK_FALSE(has_text(ids, "1"));
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();
    ds->putAndInsertString(DCM_SeriesNumber, "1");
    ds->putAndInsertString(DCM_ProtocolName, "AXIAL 1.0 SPIRAL 12 SEC");  // "12" is not the study id here
    ds->putAndInsertString(DCM_SeriesDescription, "P7A12B");               // short id inside a token
    // A new UID whose digits happen to contain an original date is not a date leak.
    ds->putAndInsertString(DCM_FrameOfReferenceUID, "2.25.9920220319123");
    auto r = deid::verify(basic(), ids, *out);
    INFO(r.summary());
    CHECK(r.clean());

    // ... but a 2-character id kept as the whole value of an element is still found.
    ds->putAndInsertString(DCM_StudyID, "12");
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0020,0010)", "study_id"));

    // With full dates retained, a kept study date equal to the birth date is not a birth-date leak.
    auto newborn = make_original();
    newborn->getDataset()->putAndInsertString(DCM_PatientBirthDate, "20220319");
    auto nids = deid::collect_identifiers(*newborn);
    auto nout = make_clean_output();
    nout->getDataset()->putAndInsertString(DCM_StudyDate, "20220319");
    CHECK(deid::verify(with({"retain_long_full_dates"}), nids, *nout).clean());
    CHECK(leaked(deid::verify(basic(), nids, *nout), "(0008,0020)", "birth_date"));
}

TEST_CASE("verifier takes a date shifted onto another original date for the shift - and nothing else for it", "[verifier]") {
    // The clean output shifts by -74 days: study date 20220319 -> 20220104. Here the original also
    // has a content date of 20220104 (a GE private sequence date did this in a third-party file),
    // and a multi-valued date at depth that holds both.
    constexpr int kShift = -74;
    auto original = make_original();
    DcmDataset* ods = original->getDataset();
    ods->putAndInsertString(DCM_ContentDate, "20220104");
    DcmItem* oref = nullptr;
    REQUIRE(ods->findOrCreateSequenceItem(DCM_ReferencedImageSequence, oref, 0).good());
    oref->putAndInsertString(DCM_AcquisitionDate, "20220319\\20220104");
    const auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();
    ds->putAndInsertString(DCM_ContentDate, "20211021");
    DcmItem* ref = nullptr;
    REQUIRE(ds->findOrCreateSequenceItem(DCM_ReferencedImageSequence, ref, 0).good());
    ref->putAndInsertString(DCM_AcquisitionDate, "20220104\\20211021");
    {
        const auto r = deid::verify(basic(), ids, *out, kShift);
        INFO(r.summary());
        CHECK(r.clean());
    }
    // Without the shift, or with another one, the study date is what it looks like: an original date.
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0008,0020)", "date"));
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift + 1), "(0008,0020)", "date"));
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift + 1), "(0008,1140)[0]/(0008,0022)", "date"));

    // An element left unshifted is a leak, though its value is another element's shift.
    ds->putAndInsertString(DCM_ContentDate, "20220104");
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift), "(0008,0023)", "date"));
    ds->putAndInsertString(DCM_ContentDate, "20211021");
    // So is one value of a multi-valued date.
    ref->putAndInsertString(DCM_AcquisitionDate, "20220104\\20220104");
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift), "(0008,1140)[0]/(0008,0022)", "date"));
    ref->putAndInsertString(DCM_AcquisitionDate, "20220104\\20211021");
    // An original date where the original had no date: nothing there was shifted.
    ds->putAndInsertString(DCM_InstanceCreationDate, "20220104");
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift), "(0008,0012)", "date"));
    REQUIRE(ds->findAndDeleteElement(DCM_InstanceCreationDate).good());
    // A date time whose date is the shift and which holds another original date after it.
    ds->putAndInsertString(DCM_AcquisitionDateTime, "2022010420220319");
    CHECK(leaked(deid::verify(basic(), ids, *out, kShift), "(0008,002a)", "date"));
    ds->putAndInsertString(DCM_AcquisitionDateTime, "20220104101500");
    CHECK(deid::verify(basic(), ids, *out, kShift).clean());
}

TEST_CASE("verifier ignores coded values and equipment make and implementation UIDs", "[verifier]") {
    // Seen in third-party files: an observer named "Enter text", Institution Name equal to the
    // vendor, Instance Creator UID equal to the toolkit's implementation class UID.
    auto original = make_original();
    DcmDataset* ods = original->getDataset();
    ods->putAndInsertString(DCM_InstitutionName, "TOSHIBA");
    ods->putAndInsertString(DCM_InstanceCreatorUID, "1.2.276.0.7230010.3.0.3.6.7");
    DcmItem* obs = nullptr;
    ods->findOrCreateSequenceItem(DCM_ContentSequence, obs, 0);
    obs->putAndInsertString(DCM_PersonName, "Valuetype^Enter text");
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();
    ds->putAndInsertString(DCM_Manufacturer, "TOSHIBA_MEC");
    DcmItem* item = nullptr;
    ds->findOrCreateSequenceItem(DCM_ContentSequence, item, 0);
    item->putAndInsertString(DCM_ValueType, "VALUETYPE");  // CS: a code, not a name
    auto r = deid::verify(basic(), ids, *out);
    INFO(r.summary());
    CHECK(r.clean());
    // The same institution in a free-text element is still found.
    ds->putAndInsertString(DCM_ImageComments, "scanned at toshiba site");
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0020,4000)", "institution"));
}

TEST_CASE("verifier decodes names with their character set on both sides", "[verifier][charset]") {
    auto original = make_original();
    DcmDataset* ods = original->getDataset();
    ods->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
    ods->putAndInsertString(DCM_PatientName, "M\xFCller^J\xFCrgen");  // Latin-1
    auto ids = deid::collect_identifiers(*original);
    CHECK(has_value(ids, "M\xC3\x9CLLER", "patient_name"));  // UTF-8, upper case

    SECTION("UTF-8 output, different case") {
        auto out = make_clean_output();
        out->getDataset()->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
        out->getDataset()->putAndInsertString(DCM_ImageComments, "Befund f\xC3\xBCr Herrn m\xC3\xBCller");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0020,4000)", "patient_name"));
    }
    SECTION("Latin-1 output inside a sequence item with its own character set") {
        auto out = make_clean_output();
        DcmItem* item = nullptr;
        out->getDataset()->findOrCreateSequenceItem(DCM_ContentSequence, item, 0);
        item->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
        item->putAndInsertString(DCM_TextValue, "Patient J\xFCrgen reports pain");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0040,a730)[0]/(0040,a160)", "patient_name"));
    }
    SECTION("a clean output stays clean") {
        auto out = make_clean_output();
        out->getDataset()->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
        out->getDataset()->putAndInsertString(DCM_ImageComments, "Befund f\xC3\xBCr [removed]");
        CHECK(deid::verify(basic(), ids, *out).clean());
    }
}

TEST_CASE("verifier checks coded strings against their defined terms", "[verifier]") {
    auto original = make_original();
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();
    ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    ds->putAndInsertString(DCM_BodyPartExamined, "CHEST");
    ds->putAndInsertString(DCM_PatientPosition, "HFS");
    INFO(deid::verify(basic(), ids, *out).summary());
    CHECK(deid::verify(basic(), ids, *out).clean());
    // Not a defined term, with the patient's 3-letter family name or an id in it.
    ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\DOE");
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0008,0008)", "patient_name"));
    ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    ds->putAndInsertString(DCM_BodyPartExamined, "S1234");
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0018,0015)", "study_id"));
}

TEST_CASE("verifier reads an undeclared value both as Latin-1 and as UTF-8", "[verifier][charset]") {
    auto original = make_original();
    original->getDataset()->putAndInsertString(DCM_PatientName, "SOLBERG^J\xDCRGEN");  // Latin-1, nothing declared
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    // "Jürgen" in UTF-8 next to Latin-1 bytes: the value is not valid UTF-8, so its first reading is
    // Latin-1 ("JÃ¼rgen"); the mixed reading shows the name.
    out->getDataset()->putAndInsertString(DCM_ImageComments, "Befund J\xC3\xBCrgen, Gr\xF6\xDF" "e 5 cm");
    CHECK(leaked(deid::verify(basic(), ids, *out), "(0020,4000)", "patient_name"));
    out->getDataset()->putAndInsertString(DCM_ImageComments, "Befund Gr\xF6\xDF" "e 5 cm");
    CHECK(deid::verify(basic(), ids, *out).clean());
}

// ---- the engine deliberately made to leak --------------------------------------------------

#include "deid/Deidentify.h"
#include "deid/Profile.h"
#include "tests/support/MemoryPseudonymSource.h"

namespace {

deid::Profile engine_profile(const std::string& rules_json) {
    const config::Config cfg = config::parse(R"({"profile": {"rules": )" + rules_json + "}}");
    return deid::Profile::from_config(cfg);
}

}  // namespace

TEST_CASE("verifier passes the engine's honest output", "[verifier][engine]") {
    auto file = make_original();
    const auto ids = deid::collect_identifiers(*file);
    testsupport::MemoryPseudonymSource source;
    const deid::Profile profile = engine_profile("[]");
    deid::apply(profile, *file, source);
    auto report = deid::verify(profile.source, ids, *file);
    INFO(report.summary());
    CHECK(report.clean());
}

TEST_CASE("verifier catches the engine made to leak by a site rule or injection", "[verifier][engine]") {
    auto file = make_original();
    const auto ids = deid::collect_identifiers(*file);
    testsupport::MemoryPseudonymSource source;

    SECTION("rule keeps Patient's Name and Accession Number") {
        const deid::Profile profile =
            engine_profile(R"J([{"tag": "PatientName", "action": "keep"}, {"tag": "(0008,0050)", "action": "keep"}])J");
        deid::apply(profile, *file, source);
        auto report = deid::verify(profile.source, ids, *file);
        CHECK(leaked(report, "(0010,0010)", "patient_name"));
        CHECK(leaked(report, "(0008,0050)", "accession_number"));
        CHECK(report.summary().find("DOE") == std::string::npos);
        CHECK(report.summary().find("Doe") == std::string::npos);
        CHECK(report.summary().find("ACC99812") == std::string::npos);
    }
    SECTION("rule replaces a description with a value carrying the name and the id") {
        const deid::Profile profile = engine_profile(
            R"([{"tag": "StudyDescription", "action": "replace", "value": "Follow-up of Johnathan Doe, MRN4711"}])");
        file->getDataset()->putAndInsertString(DCM_StudyDescription, "CT CHEST");  // rules act on present elements
        deid::apply(profile, *file, source);
        auto report = deid::verify(profile.source, ids, *file);
        CHECK(leaked(report, "(0008,1030)", "patient_name"));
        CHECK(leaked(report, "(0008,1030)", "patient_id"));
        CHECK(report.summary().find("MRN4711") == std::string::npos);
    }
    SECTION("a value injected after the engine, in a private sequence") {
        const deid::Profile profile = engine_profile("[]");
        deid::apply(profile, *file, source);
        REQUIRE(deid::verify(profile.source, ids, *file).clean());
        DcmDataset* ds = file->getDataset();
        ds->putAndInsertString(DcmTag(0x0041, 0x0010, EVR_LO), "INJECTED");
        DcmItem* item = nullptr;
        ds->findOrCreateSequenceItem(DcmTag(0x0041, 0x1001, EVR_SQ), item, 0);
        item->putAndInsertString(DcmTag(0x0041, 0x1002, EVR_UI), kSeriesUid);
        auto report = deid::verify(profile.source, ids, *file);
        CHECK(leaked(report, "(0041,1001)[0]/(0041,1002)", "uid"));
        CHECK(report.leaks.size() == 1);
    }
}

// The verifier indexes the identifiers' forms once per instance and matches a value only against
// those whose form occurs in it: every kind of value must still find every kind of identifier.
TEST_CASE("verifier finds each identifier wherever the index must point to it", "[verifier][index]") {
    auto original = make_original();
    auto ids = deid::collect_identifiers(*original);
    auto out = make_clean_output();
    DcmDataset* ds = out->getDataset();

    SECTION("an original UID inside free text and as the second value of a UI") {
        ds->putAndInsertString(DCM_ImageComments, std::string("see ").append(kStudyUid).append(" for the prior").c_str());
        ds->putAndInsertString(DCM_SOPInstanceUID, std::string("2.25.1\\").append(kSeriesUid).c_str());
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0020,4000)", "uid"));
        CHECK(leaked(r, "(0008,0018)", "uid"));
    }
    SECTION("an id in a coded string, an application entity title and a second LO value") {
        ds->putAndInsertString(DCM_BodyPartExamined, "CHEST\\MRN4711");
        ds->putAndInsertString(DCM_PerformedStationAETitle, "ACC99812");
        ds->putAndInsertString(DCM_ProtocolName, "ROUTINE\\s1234");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0018,0015)", "patient_id"));
        CHECK(leaked(r, "(0040,0241)", "accession_number"));
        CHECK(leaked(r, "(0018,1030)", "study_id"));
    }
    SECTION("names and dates in folded forms, lower case and with other separators") {
        ds->putAndInsertString(DCM_SeriesDescription, "f/u doe, johnathan q");
        ds->putAndInsertString(DCM_ImageComments, "dob 12.04.1961, seen by dr house at st elsewhere general");
        auto r = deid::verify(basic(), ids, *out);
        CHECK(leaked(r, "(0008,103e)", "patient_name"));
        CHECK(leaked(r, "(0020,4000)", "birth_date"));
        CHECK(leaked(r, "(0020,4000)", "staff_name"));
        CHECK(leaked(r, "(0020,4000)", "institution"));
    }
    SECTION("a clean output stays clean") {
        auto r = deid::verify(basic(), ids, *out);
        CHECK(r.clean());
    }
}

// The needles of one instance's values are kept for the next instance (Verifier.cpp NeedleMemo):
// an instance verified after another is matched against its own values, in their own categories.
TEST_CASE("verifier: an instance verified after another is matched against its own values", "[verifier]") {
    auto first = make_original();
    auto out = make_clean_output();
    const auto first_ids = deid::collect_identifiers(*first);
    REQUIRE(deid::verify(basic(), first_ids, *out).clean());

    // The next patient: another name and id, the first one's referring physician as its own
    // name, the same institution and study date.
    auto second = make_original();
    second->getDataset()->putAndInsertString(DCM_PatientName, "Roe^Janet");
    second->getDataset()->putAndInsertString(DCM_PatientID, "MRN5822");
    second->getDataset()->putAndInsertString(DCM_ReferringPhysicianName, "Doe^Johnathan");
    second->getDataset()->putAndInsertString(DCM_OtherPatientNames, "House^Gregory");
    const auto second_ids = deid::collect_identifiers(*second);
    DcmDataset* ds = out->getDataset();

    // The first patient's id is no identifier of the second; the second's is.
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST ref MRN4711");
    CHECK(deid::verify(basic(), second_ids, *out).clean());
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST ref MRN5822");
    auto r = deid::verify(basic(), second_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "patient_id"));
    // A name that was staff in the first instance is the patient's in the second, and the other way.
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST for Gregory House");
    r = deid::verify(basic(), second_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "patient_name"));
    CHECK_FALSE(leaked(r, "(0008,1030)", "staff_name"));
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST for Johnathan Doe");
    r = deid::verify(basic(), second_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "staff_name"));
    CHECK_FALSE(leaked(r, "(0008,1030)", "patient_name"));
    // The same institution and date, kept from the first instance's needles, still match.
    ds->putAndInsertString(DCM_StudyDescription, "St. Elsewhere General 2022-03-19");
    r = deid::verify(basic(), second_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "institution"));
    CHECK(leaked(r, "(0008,1030)", "date"));
    // And the first instance again, after the second.
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST ref MRN4711 for Janet Roe");
    r = deid::verify(basic(), first_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "patient_id"));
    CHECK_FALSE(leaked(r, "(0008,1030)", "patient_name"));
}
