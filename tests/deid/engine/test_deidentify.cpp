#include "deid/Deidentify.h"

#include <filesystem>
#include <functional>

#include <catch2/catch.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvrobow.h>

#include "deid/Conditions.h"
#include "deid/DcmValues.h"
#include "deid/Ps315Table.h"
#include "tests/support/MemoryPseudonymSource.h"

using deid::Profile;
using testsupport::MemoryPseudonymSource;

namespace {

const char* kSopInstance = "1.2.826.0.1.3680043.2.1125.1.111";
const char* kStudy = "1.2.826.0.1.3680043.2.1125.1.222";
const char* kSeries = "1.2.826.0.1.3680043.2.1125.1.333";
const char* kFrame = "1.2.826.0.1.3680043.2.1125.1.444";
const char* kReferenced = "1.2.826.0.1.3680043.2.1125.1.555";
const char* kCtClass = "1.2.840.10008.5.1.4.1.1.2";

Profile profile(std::vector<std::string> options, std::vector<config::Rule> rules = {}) {
    config::Profile p;
    p.options = std::move(options);
    p.rules = std::move(rules);
    return Profile::from_config(p);
}

std::string str(DcmItem& d, const DcmTagKey& tag, unsigned long pos = 0) {
    OFString v;
    if (d.findAndGetOFString(tag, v, pos).good()) return v.c_str();
    return "<absent>";
}
std::string all(DcmItem& d, const DcmTagKey& tag) {
    OFString v;
    if (d.findAndGetOFStringArray(tag, v).good()) return v.c_str();
    return "<absent>";
}

DcmItem* item(DcmItem& d, const DcmTagKey& seq, unsigned long i = 0) {
    DcmItem* it = nullptr;
    d.findAndGetSequenceItem(seq, it, static_cast<signed long>(i));
    return it;
}

// A small CT instance with identifying values everywhere.
void fill_ct(DcmItem& d) {
    d.putAndInsertString(DCM_SOPClassUID, kCtClass);
    d.putAndInsertString(DCM_SOPInstanceUID, kSopInstance);
    d.putAndInsertString(DCM_StudyInstanceUID, kStudy);
    d.putAndInsertString(DCM_SeriesInstanceUID, kSeries);
    d.putAndInsertString(DCM_FrameOfReferenceUID, kFrame);
    d.putAndInsertString(DCM_PatientName, "DOE^JOHN");
    d.putAndInsertString(DCM_PatientID, "12345");
    d.putAndInsertString(DCM_IssuerOfPatientID, "HOSP");
    d.putAndInsertString(DCM_PatientBirthDate, "19600412");
    d.putAndInsertString(DCM_PatientSex, "M");
    d.putAndInsertString(DCM_PatientAge, "062Y");
    d.putAndInsertString(DCM_PatientWeight, "80");
    d.putAndInsertString(DCM_StudyDate, "20220319");
    d.putAndInsertString(DCM_StudyTime, "101010");
    d.putAndInsertString(DCM_SeriesDate, "20220319");
    d.putAndInsertString(DCM_AcquisitionDate, "20220319");
    d.putAndInsertString(DCM_AcquisitionDateTime, "20220319101500.000000");
    d.putAndInsertString(DCM_ContentDate, "20220319");
    d.putAndInsertString(DCM_ContentTime, "101600");
    d.putAndInsertString(DCM_AccessionNumber, "ACC987654");
    d.putAndInsertString(DCM_ReferringPhysicianName, "SMITH^ANNA");
    d.putAndInsertString(DCM_StudyID, "ST77");
    d.putAndInsertString(DCM_InstitutionName, "GENERAL HOSPITAL");
    d.putAndInsertString(DCM_StationName, "CTSTATION1");
    d.putAndInsertString(DCM_StationAETitle, "CTAE01");
    d.putAndInsertString(DCM_DeviceSerialNumber, "SN-4711");
    d.putAndInsertString(DCM_StudyDescription, "CT CHEST W CONTRAST for JOHN DOE, MRN 12345, prior 03/19/2022");
    d.putAndInsertString(DCM_ClinicalTrialProtocolID, "TRIAL-PROTOCOL-9");
    d.putAndInsertString(DCM_TimezoneOffsetFromUTC, "+0100");
    d.putAndInsertString(DCM_ImageID, "IMG-DOE-1");
    d.putAndInsertString(DCM_Modality, "CT");
    d.putAndInsertString(DCM_Manufacturer, "ACME");
    d.putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    d.putAndInsertUint16(DCM_Rows, 2);
    d.putAndInsertUint16(DCM_Columns, 2);
    d.putAndInsertString(DCM_PixelSpacing, "0.5\\0.5");
    d.putAndInsertString(DCM_SliceThickness, "1.25");
    d.putAndInsertString(DCM_ImagePositionPatient, "-100\\-100\\50");
    d.putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
    d.putAndInsertString(DCM_RescaleSlope, "1");
    d.putAndInsertString(DCM_RescaleIntercept, "-1024");
    d.putAndInsertString(DCM_RescaleType, "HU");
    d.putAndInsertString(DCM_KVP, "120");
    d.putAndInsertString(DCM_WindowCenter, "40");
    d.putAndInsertString(DCM_WindowWidth, "400");
    d.putAndInsertUint16(DCM_BitsAllocated, 16);
    d.putAndInsertUint16(DCM_BitsStored, 12);
    d.putAndInsertUint16(DCM_HighBit, 11);
    d.putAndInsertUint16(DCM_PixelRepresentation, 0);
    d.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    d.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    const Uint16 pixels[4] = {1, 2, 3, 4};
    d.putAndInsertUint16Array(DCM_PixelData, pixels, 4);
    // A reference to another instance, nested.
    DcmItem* ref = nullptr;
    d.findOrCreateSequenceItem(DCM_ReferencedImageSequence, ref, -2);
    ref->putAndInsertString(DCM_ReferencedSOPClassUID, kCtClass);
    ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, kReferenced);
    // A sequence the table does not name, with identifying values two levels down.
    DcmItem* region = nullptr;
    d.findOrCreateSequenceItem(DCM_AnatomicRegionSequence, region, -2);
    region->putAndInsertString(DCM_CodeValue, "T-D3000");
    region->putAndInsertString(DCM_CodingSchemeDesignator, "SRT");
    region->putAndInsertString(DCM_CodeMeaning, "Chest");
    DcmItem* deeper = nullptr;
    region->findOrCreateSequenceItem(DCM_AnatomicRegionModifierSequence, deeper, -2);
    deeper->putAndInsertString(DCM_PatientName, "DOE^JOHN");
    deeper->putAndInsertString(DCM_ReferringPhysicianName, "SMITH^ANNA");
    deeper->putAndInsertString(DCM_InstitutionName, "GENERAL HOSPITAL");
    // Private attributes: a safe ELSCINT1 one (Table E.3.10-1), an unsafe one, another creator.
    d.putAndInsertString(DcmTag(0x00E1, 0x0010, EVR_LO), "ELSCINT1");
    d.putAndInsertString(DcmTag(0x00E1, 0x1021, EVR_DS), "123.4");
    d.putAndInsertString(DcmTag(0x00E1, 0x1099, EVR_LO), "DOE JOHN");
    d.putAndInsertString(DcmTag(0x0019, 0x0010, EVR_LO), "ACME PRIVATE");
    d.putAndInsertString(DcmTag(0x0019, 0x1001, EVR_LO), "12345");
}

DcmFileFormat make_ct() {
    DcmFileFormat f;
    fill_ct(*f.getDataset());
    f.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, kCtClass);
    f.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, kSopInstance);
    f.getMetaInfo()->putAndInsertString(DCM_SourceApplicationEntityTitle, "CTAE01");
    return f;
}

std::vector<std::string> codes(DcmItem& d) {
    std::vector<std::string> out;
    for (unsigned long i = 0; DcmItem* it = item(d, DCM_DeidentificationMethodCodeSequence, i); ++i) {
        out.push_back(str(*it, DCM_CodeValue));
        CHECK(str(*it, DCM_CodingSchemeDesignator) == "DCM");
        CHECK(str(*it, DCM_CodeMeaning) == deid::method_code_meaning(str(*it, DCM_CodeValue)));
    }
    return out;
}

bool has_code(DcmItem& d, const std::string& code) {
    auto c = codes(d);
    return std::find(c.begin(), c.end(), code) != c.end();
}

std::string shifted(const std::string& da, int days) {
    std::tm tm{};
    tm.tm_year = std::stoi(da.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(da.substr(4, 2)) - 1;
    tm.tm_mday = std::stoi(da.substr(6, 2)) + days;
    tm.tm_hour = 12;
    timegm(&tm);
    char b[40];
    std::snprintf(b, sizeof b, "%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return b;
}

}  // namespace

TEST_CASE("the generated table is Table E.1-1 and E.3.10-1 of edition 2024c") {
    CHECK(std::string(deid::ps315_edition()) == "2024c");
    CHECK(deid::ps315_row_count() == 623);
    CHECK(deid::ps315_safe_private_count() == 479);
    REQUIRE(deid::find_ps315_row(0x0010, 0x0010));
    CHECK(deid::find_ps315_row(0x0010, 0x0010)->basic == deid::Ps315Action::Z);
    CHECK(deid::find_ps315_row(0x0008, 0x0018)->basic == deid::Ps315Action::U);
    CHECK(deid::find_ps315_row(0x0008, 0x1140)->basic == deid::Ps315Action::XZU);
    REQUIRE(deid::find_ps315_row(0x6002, 0x3000));
    CHECK(std::string(deid::find_ps315_row(0x6002, 0x3000)->name) == "Overlay Data");
    CHECK(deid::find_ps315_row(0x5010, 0x1234));  // (50xx,xxxx) Curve Data
    CHECK(deid::find_ps315_row(0x6021, 0x3000) == nullptr);  // odd group: private, not an overlay
    CHECK(deid::find_ps315_row(0x0028, 0x0010) == nullptr);  // Rows: not in the table
    CHECK(deid::is_safe_private(0x00E1, 0x21, "elscint1"));
    CHECK(deid::is_safe_private(0x00E1, 0x21, "ELSCINT1 "));
    CHECK_FALSE(deid::is_safe_private(0x00E1, 0x99, "ELSCINT1"));
    CHECK_FALSE(deid::is_safe_private(0x00E1, 0x21, "OTHER"));
}

TEST_CASE("basic profile: identity replaced, table actions applied, research attributes kept") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::DeidReport r = deid::apply(profile({}), f, src);
    DcmDataset& d = *f.getDataset();

    CHECK(src.calls == 1);  // one resolve call per instance
    const std::string psn = src.pseudonym("HOSP", "12345");
    CHECK(str(d, DCM_PatientName) == psn);
    CHECK(str(d, DCM_PatientID) == psn);
    CHECK(str(d, DCM_IssuerOfPatientID) == "<absent>");       // X
    CHECK(str(d, DCM_PatientBirthDate) == "");                 // Z
    CHECK(str(d, DCM_PatientSex) == "");                       // Z
    CHECK(str(d, DCM_PatientAge) == "<absent>");               // X
    CHECK(str(d, DCM_StudyDate) == "");                        // Z
    CHECK(str(d, DCM_AccessionNumber) == "");                  // Z
    CHECK(str(d, DCM_ReferringPhysicianName) == "");           // Z
    CHECK(str(d, DCM_StudyDescription) == "<absent>");         // X
    CHECK(str(d, DCM_ClinicalTrialProtocolID) == "ANONYMIZED");  // D
    CHECK(str(d, DCM_StationAETitle) == "<absent>");           // X
    // Compound codes resolved for a CT image: X/Z Acquisition Date -> X, X/D Series Date -> X,
    // Z/D Content Date -> Z (Type 2 here), X/Z/D Institution Name, Device Serial Number -> X.
    CHECK(str(d, DCM_AcquisitionDate) == "<absent>");
    CHECK(str(d, DCM_SeriesDate) == "<absent>");
    CHECK(str(d, DCM_ContentDate) == "");
    CHECK(str(d, DCM_InstitutionName) == "<absent>");
    CHECK(str(d, DCM_DeviceSerialNumber) == "<absent>");
    CHECK(str(d, DCM_AcquisitionDateTime) == "<absent>");
    // Allow-list: a text attribute the table does not name is removed.
    REQUIRE(deid::find_ps315_row(0x0054, 0x0400) == nullptr);
    CHECK(str(d, DCM_ImageID) == "<absent>");
    CHECK(str(d, DCM_TimezoneOffsetFromUTC) == "<absent>");

    // UIDs: keyed replacements of the form 2.25.<decimal>, references kept consistent.
    CHECK(str(d, DCM_SOPInstanceUID) == src.uid(kSopInstance));
    CHECK(str(d, DCM_SOPInstanceUID).rfind("2.25.", 0) == 0);
    CHECK(str(d, DCM_StudyInstanceUID) == src.uid(kStudy));
    CHECK(str(d, DCM_SeriesInstanceUID) == src.uid(kSeries));
    CHECK(str(d, DCM_FrameOfReferenceUID) == src.uid(kFrame));
    CHECK(str(d, DCM_SOPClassUID) == kCtClass);
    DcmItem* ref = item(d, DCM_ReferencedImageSequence);  // X/Z/U*: kept, UIDs replaced
    REQUIRE(ref);
    CHECK(str(*ref, DCM_ReferencedSOPInstanceUID) == src.uid(kReferenced));
    CHECK(str(*ref, DCM_ReferencedSOPClassUID) == kCtClass);
    CHECK(str(*f.getMetaInfo(), DCM_MediaStorageSOPInstanceUID) == src.uid(kSopInstance));
    CHECK(str(*f.getMetaInfo(), DCM_SourceApplicationEntityTitle) == "<absent>");
    CHECK(r.sop_instance_uid == src.uid(kSopInstance));

    // Nested at every depth.
    DcmItem* region = item(d, DCM_AnatomicRegionSequence);
    REQUIRE(region);
    CHECK(str(*region, DCM_CodeValue) == "T-D3000");
    DcmItem* deeper = item(*region, DCM_AnatomicRegionModifierSequence);
    REQUIRE(deeper);
    CHECK(str(*deeper, DCM_PatientName) == psn);
    CHECK(str(*deeper, DCM_ReferringPhysicianName) == "");
    CHECK(str(*deeper, DCM_InstitutionName) == "<absent>");

    // Research attributes survive.
    CHECK(str(d, DCM_Modality) == "CT");
    CHECK(str(d, DCM_Manufacturer) == "ACME");
    CHECK(all(d, DCM_PixelSpacing) == "0.5\\0.5");
    CHECK(str(d, DCM_SliceThickness) == "1.25");
    CHECK(all(d, DCM_ImagePositionPatient) == "-100\\-100\\50");
    CHECK(all(d, DCM_ImageOrientationPatient) == "1\\0\\0\\0\\1\\0");
    CHECK(str(d, DCM_RescaleSlope) == "1");
    CHECK(str(d, DCM_RescaleIntercept) == "-1024");
    CHECK(str(d, DCM_RescaleType) == "HU");
    CHECK(str(d, DCM_KVP) == "120");
    CHECK(str(d, DCM_WindowCenter) == "40");
    CHECK(all(d, DCM_ImageType) == "ORIGINAL\\PRIMARY\\AXIAL");
    Uint16 rows = 0;
    CHECK(d.findAndGetUint16(DCM_Rows, rows).good());
    CHECK(rows == 2);
    CHECK(d.tagExists(DCM_PixelData));

    // Private attributes removed without retain_safe_private, creators too.
    CHECK_FALSE(d.tagExists(DcmTagKey(0x00E1, 0x1021)));
    CHECK_FALSE(d.tagExists(DcmTagKey(0x00E1, 0x0010)));
    CHECK_FALSE(d.tagExists(DcmTagKey(0x0019, 0x1001)));
    CHECK_FALSE(d.tagExists(DcmTagKey(0x0019, 0x0010)));

    // What was done is recorded.
    CHECK(str(d, DCM_PatientIdentityRemoved) == "YES");
    CHECK(all(d, DCM_DeidentificationMethod).find("2024c") != std::string::npos);
    CHECK(codes(d) == std::vector<std::string>{"113100"});
    CHECK(str(d, DCM_LongitudinalTemporalInformationModified) == "REMOVED");
    CHECK_FALSE(r.dates_shifted);
}

TEST_CASE("the same input gives the same output - one source call carries every UID") {
    DcmFileFormat a = make_ct(), b = make_ct();
    MemoryPseudonymSource src1, src2;
    deid::apply(profile({}), a, src1);
    deid::apply(profile({}), b, src2);
    CHECK(str(*a.getDataset(), DCM_SOPInstanceUID) == str(*b.getDataset(), DCM_SOPInstanceUID));
    const auto& uids = src1.last_request.uids;
    for (const char* u : {kSopInstance, kStudy, kSeries, kFrame, kReferenced})
        CHECK(std::find(uids.begin(), uids.end(), u) != uids.end());
    CHECK(std::find(uids.begin(), uids.end(), kCtClass) == uids.end());  // never a SOP Class UID
    CHECK(src1.last_request.patient_id == "12345");
    CHECK(src1.last_request.issuer == "HOSP");
}

TEST_CASE("default issuer is used when Issuer of Patient ID is absent") {
    DcmFileFormat f = make_ct();
    f.getDataset()->findAndDeleteElement(DCM_IssuerOfPatientID);
    config::Profile cp;
    Profile p = Profile::from_config(cp, "SITE-A");
    MemoryPseudonymSource src;
    deid::apply(p, f, src);
    CHECK(src.last_request.issuer == "SITE-A");
}

TEST_CASE("the pseudonym source being unavailable propagates as PseudonymUnavailable") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    src.unavailable = true;
    CHECK_THROWS_AS(deid::apply(profile({}), f, src), deid::PseudonymUnavailable);
}

TEST_CASE("retain_long_modified_dates shifts every date by the patient's offset, keeps times") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::DeidReport r = deid::apply(profile({"retain_long_modified_dates"}), f, src);
    DcmDataset& d = *f.getDataset();
    const int off = src.date_offset("HOSP", "12345");
    CHECK(str(d, DCM_StudyDate) == shifted("20220319", off));
    CHECK(str(d, DCM_SeriesDate) == shifted("20220319", off));
    CHECK(str(d, DCM_AcquisitionDateTime) == shifted("20220319", off) + "101500.000000");
    CHECK(str(d, DCM_StudyTime) == "101010");
    CHECK(str(d, DCM_PatientBirthDate) == "");  // Z: the option column is empty for birth date
    CHECK(r.dates_shifted);
    CHECK(str(d, DCM_LongitudinalTemporalInformationModified) == "MODIFIED");
    CHECK(has_code(d, "113107"));

    // Intervals between a patient's studies are exact.
    DcmFileFormat g = make_ct();
    g.getDataset()->putAndInsertString(DCM_StudyDate, "20230101");
    g.getDataset()->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.999");
    deid::apply(profile({"retain_long_modified_dates"}), g, src);
    CHECK(str(*g.getDataset(), DCM_StudyDate) == shifted("20230101", off));
}

TEST_CASE("retain_long_full_dates keeps dates") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_long_full_dates"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_StudyDate) == "20220319");
    CHECK(str(d, DCM_AcquisitionDate) == "20220319");
    CHECK(str(d, DCM_LongitudinalTemporalInformationModified) == "UNMODIFIED");
    CHECK(has_code(d, "113106"));
}

TEST_CASE("retain_patient_characteristics keeps sex, age and weight") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_patient_characteristics"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_PatientSex) == "M");
    CHECK(str(d, DCM_PatientAge) == "062Y");
    CHECK(str(d, DCM_PatientWeight) == "80");
    CHECK(str(d, DCM_PatientBirthDate) == "");
    CHECK(has_code(d, "113108"));
}

TEST_CASE("retain_uids keeps the original UIDs") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_uids"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_SOPInstanceUID) == kSopInstance);
    CHECK(str(d, DCM_StudyInstanceUID) == kStudy);
    CHECK(str(*item(d, DCM_ReferencedImageSequence), DCM_ReferencedSOPInstanceUID) == kReferenced);
    CHECK(src.last_request.uids.empty());
    CHECK(has_code(d, "113110"));
}

TEST_CASE("retain_device_identity keeps station and serial number, cleans AE titles") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_device_identity"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_StationName) == "CTSTATION1");
    CHECK(str(d, DCM_DeviceSerialNumber) == "SN-4711");
    CHECK(str(d, DCM_StationAETitle) == "ANONYMIZED");
    CHECK(has_code(d, "113109"));
}

TEST_CASE("retain_institution_identity keeps the institution name") {
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_institution_identity"}), f, src);
    CHECK(str(*f.getDataset(), DCM_InstitutionName) == "GENERAL HOSPITAL");
    CHECK(has_code(*f.getDataset(), "113112"));
}

TEST_CASE("clean_descriptors keeps the useful text and removes the identifying part") {
    DcmFileFormat f = make_ct();
    f.getDataset()->putAndInsertString(DCM_ImageComments, "CT CHEST W CONTRAST for JOHN DOE, MRN 12345, prior 03/19/2022");
    f.getDataset()->putAndInsertString(DCM_DerivationDescription, "Seen by Dr SMITH at GENERAL HOSPITAL, call 555-123-4567");
    f.getDataset()->putAndInsertString(DCM_SeriesDescription, "T2 FLAIR AX 5mm");
    MemoryPseudonymSource src;
    deid::apply(profile({"clean_descriptors"}), f, src);
    DcmDataset& d = *f.getDataset();
    // Image Comments is LT; the same text in Study Description (LO, at most 64 characters) is cut
    // before the last whole "[removed]" that does not fit.
    CHECK(str(d, DCM_ImageComments) == "CT CHEST W CONTRAST for [removed], MRN [removed], prior [removed]");
    CHECK(str(d, DCM_StudyDescription) == "CT CHEST W CONTRAST for [removed], MRN [removed], prior");
    CHECK(str(d, DCM_DerivationDescription) == "Seen by Dr [removed] at [removed], call [removed]");
    CHECK(str(d, DCM_SeriesDescription) == "T2 FLAIR AX 5mm");
    CHECK(has_code(d, "113105"));
}

// The cleaner built for one instance is kept for the next one with the same identifying values
// (Deidentify.cpp cleaner_for): an instance that follows another must get its own terms, and the
// date shift of its own profile.
TEST_CASE("clean_descriptors: an instance after another one is cleaned of its own values, not the previous one's") {
    MemoryPseudonymSource src;
    // (Ids of three characters: the patterns would remove longer ones from any text.)
    const std::string text = "for ZOE MILLER and JANE ROE, MRN Q7X / K9Z, seen 14 March 2022";
    auto make = [&](const char* name, const char* id) {
        DcmFileFormat f = make_ct();
        f.getDataset()->putAndInsertString(DCM_PatientName, name);
        f.getDataset()->putAndInsertString(DCM_PatientID, id);
        f.getDataset()->putAndInsertString(DCM_ImageComments, text.c_str());
        return f;
    };
    DcmFileFormat a = make("MILLER^ZOE", "Q7X");
    deid::apply(profile({"clean_descriptors"}), a, src);
    CHECK(str(*a.getDataset(), DCM_ImageComments) == "for [removed] and JANE ROE, MRN [removed] / K9Z, seen [removed]");
    DcmFileFormat b = make("ROE^JANE", "K9Z");
    deid::apply(profile({"clean_descriptors"}), b, src);
    CHECK(str(*b.getDataset(), DCM_ImageComments) == "for ZOE MILLER and [removed], MRN Q7X / [removed], seen [removed]");
    // The same values again, with a profile that shifts dates in text, then one that does not.
    DcmFileFormat c = make("ROE^JANE", "K9Z");
    deid::apply(profile({"clean_descriptors", "retain_long_modified_dates"}), c, src);
    const std::string day = shifted("20220314", src.date_offset("HOSP", "K9Z"));
    CHECK(str(*c.getDataset(), DCM_ImageComments) ==
          "for ZOE MILLER and [removed], MRN Q7X / [removed], seen " + day.substr(0, 4) + "-" + day.substr(4, 2) + "-" + day.substr(6, 2));
    DcmFileFormat d = make("ROE^JANE", "K9Z");
    deid::apply(profile({"clean_descriptors"}), d, src);
    CHECK(str(*d.getDataset(), DCM_ImageComments) == "for ZOE MILLER and [removed], MRN Q7X / [removed], seen [removed]");
}

TEST_CASE("private attributes: retain_safe_private keeps Table E.3.10-1 entries with their creator") {
    DcmFileFormat f = make_ct();
    f.getDataset()->putAndInsertString(DcmTag(0x00E1, 0x0010, EVR_LO), "elscint1");  // case-insensitive
    MemoryPseudonymSource src;
    deid::apply(profile({"retain_safe_private"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DcmTagKey(0x00E1, 0x1021)) == "123.4");
    CHECK(str(d, DcmTagKey(0x00E1, 0x0010)) == "elscint1");
    CHECK_FALSE(d.tagExists(DcmTagKey(0x00E1, 0x1099)));
    CHECK_FALSE(d.tagExists(DcmTagKey(0x0019, 0x1001)));
    CHECK_FALSE(d.tagExists(DcmTagKey(0x0019, 0x0010)));
    CHECK(has_code(d, "113111"));
}

TEST_CASE("overlays and curves: removed by default, kept and cleaned with clean_graphics") {
    auto with_overlay = [] {
        DcmFileFormat f = make_ct();
        DcmDataset& d = *f.getDataset();
        d.putAndInsertUint16(DcmTagKey(0x6000, 0x0010), 2);
        d.putAndInsertUint16(DcmTagKey(0x6000, 0x0011), 2);
        d.putAndInsertString(DcmTagKey(0x6000, 0x0040), "G");
        d.putAndInsertString(DcmTagKey(0x6000, 0x0022), "marker for DOE JOHN");
        const Uint16 bits[1] = {0x000F};
        d.putAndInsertUint16Array(DcmTagKey(0x6000, 0x3000), bits, 1);
        return f;
    };
    MemoryPseudonymSource src;
    DcmFileFormat a = with_overlay();
    deid::apply(profile({}), a, src);
    CHECK_FALSE(a.getDataset()->tagExists(DcmTagKey(0x6000, 0x3000)));
    CHECK_FALSE(a.getDataset()->tagExists(DcmTagKey(0x6000, 0x0010)));

    DcmFileFormat b = with_overlay();
    deid::apply(profile({"clean_graphics"}), b, src);
    CHECK(b.getDataset()->tagExists(DcmTagKey(0x6000, 0x3000)));
    CHECK(b.getDataset()->tagExists(DcmTagKey(0x6000, 0x0010)));
    CHECK(str(*b.getDataset(), DcmTagKey(0x6000, 0x0022)) == "marker for [removed]");
    CHECK(has_code(*b.getDataset(), "113103"));
}

TEST_CASE("structured reports: TEXT cleaned, PNAME replaced, DATE shifted, UIDREF remapped") {
    auto make_sr = [] {
        DcmFileFormat f;
        DcmDataset& d = *f.getDataset();
        d.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.88.11");
        d.putAndInsertString(DCM_SOPInstanceUID, kSopInstance);
        d.putAndInsertString(DCM_PatientName, "DOE^JOHN");
        d.putAndInsertString(DCM_PatientID, "12345");
        d.putAndInsertString(DCM_ContentDate, "20220319");
        d.putAndInsertString(DCM_ContentTime, "120000");
        d.putAndInsertString(DCM_Modality, "SR");
        d.putAndInsertString(DCM_ValueType, "CONTAINER");
        auto add = [&](const char* type) {
            DcmItem* it = nullptr;
            d.findOrCreateSequenceItem(DCM_ContentSequence, it, -2);
            it->putAndInsertString(DCM_RelationshipType, "CONTAINS");
            it->putAndInsertString(DCM_ValueType, type);
            return it;
        };
        add("TEXT")->putAndInsertString(DCM_TextValue, "Patient JOHN DOE (MRN 12345) improved since 2022-03-19.");
        add("PNAME")->putAndInsertString(DCM_PersonName, "SMITH^ANNA");
        add("DATE")->putAndInsertString(DCM_Date, "20220319");
        add("UIDREF")->putAndInsertString(DCM_UID, kReferenced);
        add("PNAME")->putAndInsertString(DCM_PersonName, "DOE^JOHN");
        return f;
    };
    MemoryPseudonymSource src;
    DcmFileFormat f = make_sr();
    deid::apply(profile({"clean_structured_content", "retain_long_modified_dates"}), f, src);
    DcmDataset& d = *f.getDataset();
    const int off = src.date_offset("", "12345");
    CHECK(str(*item(d, DCM_ContentSequence, 0), DCM_TextValue) == "Patient [removed] (MRN [removed]) improved since [removed].");
    CHECK(str(*item(d, DCM_ContentSequence, 1), DCM_PersonName) == "ANONYMOUS");
    CHECK(str(*item(d, DCM_ContentSequence, 2), DCM_Date) == shifted("20220319", off));
    CHECK(str(*item(d, DCM_ContentSequence, 3), DCM_UID) == src.uid(kReferenced));
    CHECK(str(*item(d, DCM_ContentSequence, 4), DCM_PersonName) == src.pseudonym("", "12345"));
    CHECK(str(*item(d, DCM_ContentSequence, 0), DCM_ValueType) == "TEXT");
    CHECK(str(d, DCM_ContentDate) == shifted("20220319", off));
    CHECK(has_code(d, "113104"));

    // Without the option the text is replaced and the date is a dummy (basic profile D);
    // Content Date is Type 1 in an SR document, so Z/D gives D.
    DcmFileFormat g = make_sr();
    deid::apply(profile({}), g, src);
    DcmDataset& e = *g.getDataset();
    CHECK(str(*item(e, DCM_ContentSequence, 0), DCM_TextValue) == "ANONYMIZED");
    CHECK(str(*item(e, DCM_ContentSequence, 2), DCM_Date) == "19000101");
    CHECK(str(e, DCM_ContentDate) == "19000101");
}

TEST_CASE("character sets: values are decoded before cleaning and re-encoded after") {
    DcmFileFormat f = make_ct();
    DcmDataset& d = *f.getDataset();
    d.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
    d.putAndInsertString(DCM_PatientName, "M\xDCLLER^J\xD6RG");  // Latin-1
    d.putAndInsertString(DCM_StudyDescription, "Thorax f\xFCr J\xD6RG M\xDCLLER");
    MemoryPseudonymSource src;
    deid::apply(profile({"clean_descriptors"}), f, src);
    CHECK(str(d, DCM_SpecificCharacterSet) == "ISO_IR 100");
    CHECK(str(d, DCM_StudyDescription) == "Thorax f\xFCr [removed]");
}

TEST_CASE("site rules: keep, remove, empty, replace, hash, shift_date, with conditions") {
    auto rule = [](std::uint16_t g, std::uint16_t e, std::string action, std::string value = "",
                   std::vector<std::string> modality = {}) {
        config::Rule r;
        r.group = g;
        r.element = e;
        r.tag = "rule";
        r.action = std::move(action);
        r.value = std::move(value);
        r.when.modality = std::move(modality);
        return r;
    };
    std::vector<config::Rule> rules = {
        rule(0x0008, 0x1010, "keep"),                              // Station Name
        rule(0x0028, 0x1050, "remove"),                            // Window Center
        rule(0x0018, 0x0060, "empty"),                             // KVP
        rule(0x0008, 0x0080, "replace", "RESEARCH SITE"),          // Institution Name
        rule(0x0020, 0x0010, "hash"),                              // Study ID
        rule(0x0008, 0x0020, "shift_date"),                        // Study Date
        rule(0x0028, 0x1051, "remove", "", {"MR"}),                // Window Width, MR only
        rule(0x0019, 0x1001, "keep"),                              // a private attribute
    };
    DcmFileFormat f = make_ct();
    MemoryPseudonymSource src;
    deid::apply(profile({}, rules), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_StationName) == "CTSTATION1");
    CHECK_FALSE(d.tagExists(DCM_WindowCenter));
    CHECK(str(d, DCM_KVP) == "");
    CHECK(str(d, DCM_InstitutionName) == "RESEARCH SITE");
    CHECK(str(d, DCM_StudyID) == src.hash("ST77"));
    CHECK(str(d, DCM_StudyDate) == shifted("20220319", src.date_offset("HOSP", "12345")));
    CHECK(str(d, DCM_WindowWidth) == "400");  // condition not met: the default applies
    CHECK(str(d, DcmTagKey(0x0019, 0x1001)) == "12345");
    CHECK(str(d, DcmTagKey(0x0019, 0x0010)) == "ACME PRIVATE");  // its creator stays with it
    CHECK(src.calls == 1);
}

TEST_CASE("rejection rules match modality, SOP class, manufacturer and calling AE") {
    config::Profile cp;
    config::Reject pdf;
    pdf.when.sop_class = {"1.2.840.10008.5.1.4.1.1.104.1"};
    pdf.reason = "encapsulated PDF";
    config::Reject acme_us;
    acme_us.when.modality = {"us"};
    acme_us.when.manufacturer = {"acme"};
    acme_us.reason = "ACME ultrasound";
    cp.reject = {pdf, acme_us};
    Profile p = Profile::from_config(cp);

    DcmFileFormat f = make_ct();
    DcmDataset& d = *f.getDataset();
    CHECK_FALSE(deid::rejection_reason(p, deid::InstanceFacts::of(d)));
    d.putAndInsertString(DCM_Modality, "US");
    CHECK(deid::rejection_reason(p, deid::InstanceFacts::of(d)) == std::optional<std::string>("ACME ultrasound"));
    d.putAndInsertString(DCM_Manufacturer, "Other Corp");
    CHECK_FALSE(deid::rejection_reason(p, deid::InstanceFacts::of(d)));
    d.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.104.1");
    CHECK(deid::rejection_reason(p, deid::InstanceFacts::of(d)) == std::optional<std::string>("encapsulated PDF"));

    config::Match by_ae;
    by_ae.calling_ae = {"MODALITY1"};
    CHECK(deid::matches(by_ae, deid::InstanceFacts::of(d, "MODALITY1")));
    CHECK_FALSE(deid::matches(by_ae, deid::InstanceFacts::of(d, "OTHER")));
}

TEST_CASE("clean_recognizable_visual_features refuses instances that say they have them") {
    DcmFileFormat f = make_ct();
    f.getDataset()->putAndInsertString(DCM_RecognizableVisualFeatures, "YES");
    MemoryPseudonymSource src;
    CHECK(deid::apply(profile({"clean_recognizable_visual_features"}), f, src).refusal == "recognizable-visual-features");
    DcmFileFormat g = make_ct();
    g.getDataset()->putAndInsertString(DCM_RecognizableVisualFeatures, "NO");
    deid::DeidReport r = deid::apply(profile({"clean_recognizable_visual_features"}), g, src);
    CHECK(r.refusal.empty());
    CHECK(has_code(*g.getDataset(), "113102"));
}

TEST_CASE("unknown VR and group length elements are removed - add_method_code appends 113101") {
    DcmFileFormat f = make_ct();
    DcmDataset& d = *f.getDataset();
    auto* un = new DcmOtherByteOtherWord(DcmTag(0x0018, 0x9999, EVR_UN));
    un->putUint8Array(reinterpret_cast<const Uint8*>("DOE^JOHN"), 8);
    d.insert(un);
    MemoryPseudonymSource src;
    deid::apply(profile({}), d, src);
    CHECK_FALSE(d.tagExists(DcmTagKey(0x0018, 0x9999)));
    deid::add_method_code(d, "113101");
    deid::add_method_code(d, "113101");  // once only
    CHECK(codes(d) == std::vector<std::string>{"113100", "113101"});
    CHECK(all(d, DCM_DeidentificationMethod).find("Clean Pixel Data Option") != std::string::npos);
}

TEST_CASE("clean_descriptors: descriptor words that are neither vocabulary nor a safe form are removed, comments keep them") {
    DcmFileFormat f = make_ct();
    DcmDataset& src_ds = *f.getDataset();
    src_ds.putAndInsertString(DCM_StudyDescription, "CT HEAD W/O CONTRAST Zbigniew");
    src_ds.putAndInsertString(DCM_SeriesDescription, "T1W 3D SAG 1.0mm Oyelaran");
    src_ds.putAndInsertString(DCM_ProtocolName, "BRAIN ROUTINE Wojtaszek");
    src_ds.putAndInsertString(DCM_ImageComments, "seen with Zbigniew");
    MemoryPseudonymSource src;
    deid::apply(profile({"clean_descriptors"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_StudyDescription) == "CT HEAD W/O CONTRAST [removed]");
    CHECK(str(d, DCM_SeriesDescription) == "T1W 3D SAG 1.0mm [removed]");
    CHECK(str(d, DCM_ProtocolName) == "BRAIN ROUTINE [removed]");
    CHECK(str(d, DCM_ImageComments) == "seen with Zbigniew");  // narrative: not the descriptor policy
}

TEST_CASE("coded strings: defined terms are kept as they are, other values that hold the patient's name or an id go") {
    DcmFileFormat f = make_ct();
    DcmDataset& s = *f.getDataset();
    s.putAndInsertString(DCM_PatientName, "DOE^JOHN");
    s.putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL\\DOE\\ST77");
    s.putAndInsertString(DCM_BodyPartExamined, "CHEST");
    s.putAndInsertString(DCM_PatientPosition, "HFS");
    s.putAndInsertString(DCM_ScanOptions, "HELICAL MODE");
    MemoryPseudonymSource src;
    deid::apply(profile({"clean_descriptors"}), f, src);
    DcmDataset& d = *f.getDataset();
    // "DOE" (3 letters, the patient's family name) and "ST77" (the Study ID) are no defined terms.
    CHECK(all(d, DCM_ImageType) == "ORIGINAL\\PRIMARY\\AXIAL");
    CHECK(str(d, DCM_BodyPartExamined) == "CHEST");
    CHECK(str(d, DCM_PatientPosition) == "HFS");
    CHECK(str(d, DCM_ScanOptions) == "HELICAL MODE");
}

TEST_CASE("character sets: an undeclared value that mixes UTF-8 and Latin-1 bytes is matched in both readings") {
    DcmFileFormat f = make_ct();
    DcmDataset& s = *f.getDataset();
    s.putAndInsertString(DCM_PatientName, "SOLBERG^J\xDCRGEN");                    // Latin-1, nothing declared
    s.putAndInsertString(DCM_ImageComments, "Befund J\xC3\xBCrgen, Gr\xF6\xDF" "e 5 cm");  // "Jürgen" in UTF-8, "öß" in Latin-1
    s.putAndInsertString(DCM_AdditionalPatientHistory, "Befund Gr\xF6\xDF" "e 5 cm");
    MemoryPseudonymSource src;
    deid::apply(profile({"clean_descriptors", "retain_patient_characteristics"}), f, src);
    DcmDataset& d = *f.getDataset();
    CHECK(str(d, DCM_SpecificCharacterSet) == "ISO_IR 192");
    // Read as Latin-1 only, the name would be "JÃ¼rgen" and stay; its UTF-8 reading shows it.
    CHECK(str(d, DCM_ImageComments) == "[removed]");
    CHECK(str(d, DCM_AdditionalPatientHistory) == "Befund Gr\xC3\xB6\xC3\x9F" "e 5 cm");
}

TEST_CASE("values: one walk reads what a search per tag reads, in any order, absent tags and sequences empty") {
    DcmDataset ds;
    ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
    ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4 ");  // padding trimmed
    ds.putAndInsertString(DCM_Modality, "CT");
    ds.putAndInsertString(DCM_PatientName, "ROE^JANE\\ROE^J");  // both values, with the backslash
    ds.putAndInsertString(DCM_PatientID, "");  // present, empty
    auto* seq = new DcmSequenceOfItems(DCM_OtherPatientIDsSequence);
    auto* item = new DcmItem();
    item->putAndInsertString(DCM_PatientID, "NESTED-ID");  // not at the top level: not read
    seq->insert(item);
    ds.insert(seq);
    ds.putAndInsertString(DCM_StudyInstanceUID, "1.2.3.5");
    ds.putAndInsertUint16(DCM_Rows, 64);
    const DcmTagKey tags[] = {DCM_StudyInstanceUID, DCM_Manufacturer, DCM_PatientName, DCM_OtherPatientIDsSequence,
                              DCM_Rows,  DCM_SOPInstanceUID, DCM_PatientID, DCM_SpecificCharacterSet,
                              DCM_Modality, DCM_PixelData};
    constexpr std::size_t n = sizeof tags / sizeof tags[0];
    std::string out[n];
    for (std::string& o : out) o = "stale";  // cleared first
    deid::string_values(ds, tags, n, out);
    for (std::size_t i = 0; i < n; ++i) {
        INFO("tag " << tags[i].toString().c_str());
        CHECK(out[i] == deid::string_value(ds, tags[i]));
    }
    CHECK(out[0] == "1.2.3.5");
    CHECK(out[1].empty());
    CHECK(out[2] == "ROE^JANE\\ROE^J");
    CHECK(out[3].empty());
    CHECK(out[4] == "64");
    CHECK(out[5] == "1.2.3.4");
    CHECK(out[6].empty());
    CHECK(out[7] == "ISO_IR 100");
}

namespace {

// DCMTK's own reading of an element, the reference element_value must give.
std::string dcmtk_array(DcmElement* e) {
    OFString v;
    if (e->getOFStringArray(v).bad()) return {};
    return std::string(v.c_str(), v.length());
}

// Every leaf element of `item` and of the items nested in it.
void each_element(DcmItem& item, const std::function<void(DcmElement*)>& fn) {
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        if (o->ident() == EVR_SQ) {
            auto* sq = static_cast<DcmSequenceOfItems*>(o);
            for (unsigned long k = 0; k < sq->card(); ++k)
                if (DcmItem* child = sq->getItem(k)) each_element(*child, fn);
        } else if (o->isLeaf()) {
            fn(static_cast<DcmElement*>(o));
        }
    }
}

}  // namespace

TEST_CASE("values: element_value and string_values read what DCMTK's getOFStringArray reads, padded or not, in every VR") {
    SECTION("written values with spaces and NULs where DCMTK normalises them") {
        DcmDataset ds;
        // Each value: leading, trailing and inner spaces, empty parts, backslashes, a NUL inside.
        const std::vector<std::pair<DcmTagKey, std::string>> values = {
            {DCM_PatientName, " ROE^JANE \\  DOE^J"}, {DCM_PatientID, "  ID 7 "}, {DCM_Modality, "CT "},
            {DCM_ImageType, "ORIGINAL\\ PRIMARY \\\\AXIAL"}, {DCM_StudyDate, " 20200101"},
            {DCM_StudyTime, "101010 "}, {DCM_SeriesInstanceUID, "1.2.3"}, {DCM_StudyInstanceUID, "1.2.3.4 "},
            {DCM_SliceThickness, " 1.5 "}, {DCM_SeriesNumber, " 7\\ 8"}, {DCM_PatientAge, "045Y"},
            {DCM_StudyDescription, "HEAD\\NECK"}, {DCM_ImageComments, "  free text \\ with a backslash  "},
            {DCM_InstitutionAddress, "ROAD 1 "}, {DCM_AcquisitionDateTime, "20200101101010 "},
            {DCM_RetrieveURL, "http://host/a b "}, {DCM_TextValue, " x "}, {DCM_StationName, "\\"},
            {DCM_AccessionNumber, ""}, {DCM_InstitutionName, "A"}, {DCM_StrainDescription, "UC VALUE\\TWO "}};
        for (const auto& [tag, text] : values) REQUIRE(ds.putAndInsertString(tag, text.c_str()).good());
        // A NUL inside a value, written as bytes (putString stops at the first NUL).
        REQUIRE(ds.putAndInsertString(DCM_OperatorsName, "AB^CD", Uint32{5}).good());
        DcmElement* ops = nullptr;
        REQUIRE(ds.findAndGetElement(DCM_OperatorsName, ops).good());
        char* bytes = nullptr;
        Uint32 length = 0;
        REQUIRE(ops->getString(bytes, length).good());
        bytes[2] = '\0';
        // A UI whose first value ends in a NUL (its padding character) before the backslash.
        REQUIRE(ds.putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2x\\1.3", Uint32{8}).good());
        DcmElement* refs = nullptr;
        REQUIRE(ds.findAndGetElement(DCM_ReferencedSOPInstanceUID, refs).good());
        REQUIRE(refs->getString(bytes, length).good());
        REQUIRE(length == 8);
        bytes[3] = '\0';
        std::size_t compared = 0;
        each_element(ds, [&](DcmElement* e) {
            INFO("tag " << e->getTag().toString().c_str());
            CHECK(deid::element_value(e) == dcmtk_array(e));
            ++compared;
        });
        CHECK(compared == values.size() + 2);
        CHECK(deid::element_value(refs) == "1.2\\1.3");
        CHECK(deid::element_value(ops) == std::string("AB\0CD", 5));
        // Where DCMTK's normalisation changes the bytes (the cheap reading would not do).
        DcmElement* e = nullptr;
        REQUIRE(ds.findAndGetElement(DCM_PatientName, e).good());
        CHECK(deid::element_value(e) == " ROE^JANE\\  DOE^J");  // PN: trailing spaces only
        REQUIRE(ds.findAndGetElement(DCM_ImageType, e).good());
        CHECK(deid::element_value(e) == "ORIGINAL\\PRIMARY\\\\AXIAL");
        REQUIRE(ds.findAndGetElement(DCM_ImageComments, e).good());
        CHECK(deid::element_value(e) == "  free text \\ with a backslash");
        CHECK(deid::element_value(nullptr).empty());
    }
    SECTION("every element of the third-party corpus, and string_values against one search per tag") {
        const std::string corpus = std::string(DEID_TEST_DATA) + "/corpus";
        std::size_t files = 0, elements = 0;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus)) {
            if (!entry.is_regular_file()) continue;
            DcmFileFormat file;
            if (file.loadFile(entry.path().c_str()).bad()) continue;  // READMEs, licences, malformed files
            ++files;
            for (DcmItem* top : {static_cast<DcmItem*>(file.getMetaInfo()), static_cast<DcmItem*>(file.getDataset())}) {
                std::vector<DcmTagKey> tags;
                each_element(*top, [&](DcmElement* e) {
                    INFO(entry.path().string() << " tag " << e->getTag().toString().c_str());
                    CHECK(deid::element_value(e) == dcmtk_array(e));
                    ++elements;
                });
                for (DcmObject* o = top->nextInContainer(nullptr); o; o = top->nextInContainer(o)) tags.push_back(o->getTag());
                std::vector<std::string> out(tags.size());
                deid::string_values(*top, tags.data(), tags.size(), out.data());
                for (std::size_t i = 0; i < tags.size(); ++i) {
                    INFO(entry.path().string() << " tag " << tags[i].toString().c_str());
                    CHECK(out[i] == deid::string_value(*top, tags[i]));
                }
            }
        }
        INFO(files << " files, " << elements << " elements");
        CHECK(files >= 40);
        CHECK(elements >= 4000);
    }
}
