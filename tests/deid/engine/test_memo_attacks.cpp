#include "deid/Deidentify.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "deid/Verifier.h"
#include "tests/support/MemoryPseudonymSource.h"

// What a worker thread keeps from one instance for the next: the text cleaner (Deidentify.cpp
// cleaner_for, keyed by what scan_identifiers found) and the verifier's needles (Verifier.cpp
// NeedleMemo, keyed by text and category). Each test processes an instance A, then an instance B
// on the same thread whose values differ from A's in one way the key must see, and checks that
// B's own values are gone from B's output (or that the verifier reports them). Values of three
// characters: the patterns would remove longer ids from any text on their own.

using deid::Profile;
using testsupport::MemoryPseudonymSource;

namespace {

const char* kCtClass = "1.2.840.10008.5.1.4.1.1.2";

Profile profile(std::vector<std::string> options) {
    config::Profile p;
    p.options = std::move(options);
    return Profile::from_config(p);
}

config::Profile verifier_profile(std::vector<std::string> options = {}) {
    config::Profile p;
    p.options = std::move(options);
    return p;
}

std::string str(DcmItem& d, const DcmTagKey& tag) {
    OFString v;
    if (d.findAndGetOFString(tag, v).good()) return v.c_str();
    return "<absent>";
}

std::string shifted_iso(const std::string& da, int days) {
    std::tm tm{};
    tm.tm_year = std::stoi(da.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(da.substr(4, 2)) - 1;
    tm.tm_mday = std::stoi(da.substr(6, 2)) + days;
    tm.tm_hour = 12;
    timegm(&tm);
    char b[40];
    std::snprintf(b, sizeof b, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return b;
}

// A small instance: only what each test puts in it is identifying.
DcmFileFormat make_instance(const char* sop_instance) {
    DcmFileFormat f;
    DcmDataset& d = *f.getDataset();
    d.putAndInsertString(DCM_SOPClassUID, kCtClass);
    d.putAndInsertString(DCM_SOPInstanceUID, sop_instance);
    d.putAndInsertString(DCM_Modality, "CT");
    f.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, kCtClass);
    f.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop_instance);
    return f;
}

// The values of one patient's instance, all of them optional.
struct Values {
    std::string patient_name = "ROE^JANE";
    std::string patient_id = "K9Z";
    std::string issuer = "HOSP";
    std::string physician;    // Referring Physician's Name
    std::string institution;  // Institution Name
    std::string station;      // Station Name
    std::string serial;       // Device Serial Number
    std::string alias;        // Other Patient Names
    std::string other_id;     // Patient ID in an item of Other Patient IDs Sequence
    std::string nested_name;  // Performing Physician's Name two sequences down
    std::string study_date;   // Study Date
    std::string comments;     // Image Comments (free text, cleaned with clean_descriptors)
};

DcmFileFormat make(const Values& v, const char* sop_instance = "1.2.826.0.1.3680043.2.1125.9.1") {
    DcmFileFormat f = make_instance(sop_instance);
    DcmDataset& d = *f.getDataset();
    auto put = [&d](const DcmTagKey& tag, const std::string& value) {
        if (!value.empty()) d.putAndInsertString(tag, value.c_str());
    };
    put(DCM_PatientName, v.patient_name);
    put(DCM_PatientID, v.patient_id);
    put(DCM_IssuerOfPatientID, v.issuer);
    put(DCM_ReferringPhysicianName, v.physician);
    put(DCM_InstitutionName, v.institution);
    put(DCM_StationName, v.station);
    put(DCM_DeviceSerialNumber, v.serial);
    put(DCM_OtherPatientNames, v.alias);
    put(DCM_StudyDate, v.study_date);
    put(DCM_ImageComments, v.comments);
    if (!v.other_id.empty()) {
        DcmItem* other = nullptr;
        d.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, other, -2);
        other->putAndInsertString(DCM_PatientID, v.other_id.c_str());
        other->putAndInsertString(DCM_IssuerOfPatientID, "ELSEWHERE");
    }
    if (!v.nested_name.empty()) {
        DcmItem* step = nullptr;
        d.findOrCreateSequenceItem(DCM_RequestAttributesSequence, step, -2);
        DcmItem* code = nullptr;
        step->findOrCreateSequenceItem(DCM_ScheduledProtocolCodeSequence, code, -2);
        code->putAndInsertString(DCM_CodeValue, "P1");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "99LOCAL");
        step->putAndInsertString(DCM_RequestedProcedureID, "RP1");
        DcmItem* deeper = nullptr;
        step->findOrCreateSequenceItem(DCM_ReferencedStudySequence, deeper, -2);
        deeper->putAndInsertString(DCM_PerformingPhysicianName, v.nested_name.c_str());
    }
    return f;
}

std::string comments_after(const Profile& p, const Values& v, deid::PseudonymSource& src) {
    DcmFileFormat f = make(v);
    deid::apply(p, f, src);
    return str(*f.getDataset(), DCM_ImageComments);
}

bool leaked(const deid::VerifyReport& r, const std::string& path, const std::string& category) {
    return std::any_of(r.leaks.begin(), r.leaks.end(),
                       [&](const deid::Leak& l) { return l.tag_path == path && l.category == category; });
}

// A de-identified output with nothing identifying in it: each test then puts one value back.
std::unique_ptr<DcmFileFormat> make_output() {
    auto ff = std::make_unique<DcmFileFormat>();
    DcmDataset* ds = ff->getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, kCtClass);
    ds->putAndInsertString(DCM_SOPInstanceUID, "2.25.123456789012345678901234567890");
    ds->putAndInsertString(DCM_PatientName, "P7A1B2C3D4");
    ds->putAndInsertString(DCM_PatientID, "P7A1B2C3D4");
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST");
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, kCtClass);
    ff->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, "2.25.123456789012345678901234567890");
    ff->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    return ff;
}

}  // namespace

// ---- the text cleaner (Deidentify.cpp cleaner_for) ---------------------------------------------

TEST_CASE("memo attacks: a name that was staff in the previous instance is the patient's own in this one") {
    // The same value in the same place of what scan_identifiers finds, as a staff name, then as
    // the patient's name: only the patient's name takes a coded value that holds it.
    MemoryPseudonymSource src;
    DcmFileFormat a = make_instance("1.2.826.0.1.3680043.2.1125.9.1");
    a.getDataset()->putAndInsertString(DCM_ReferringPhysicianName, "QUIXBY^ZELDA");
    a.getDataset()->putAndInsertString(DCM_PatientID, "K9Z");
    a.getDataset()->putAndInsertString(DCM_BodyPartExamined, "QUIXBY");
    deid::apply(profile({}), a, src);
    CHECK(str(*a.getDataset(), DCM_BodyPartExamined) == "QUIXBY");  // a staff name: not searched in codes
    DcmFileFormat b = make_instance("1.2.826.0.1.3680043.2.1125.9.2");
    b.getDataset()->putAndInsertString(DCM_PatientName, "QUIXBY^ZELDA");
    b.getDataset()->putAndInsertString(DCM_PatientID, "K9Z");
    b.getDataset()->putAndInsertString(DCM_BodyPartExamined, "QUIXBY");
    deid::apply(profile({}), b, src);
    CHECK(str(*b.getDataset(), DCM_BodyPartExamined) == "");
}

TEST_CASE("memo attacks: a value that was an institution in the previous instance is an accession number in this one") {
    // Kept text (Manufacturer) loses the instance's ids of five or more characters, not its
    // institution's words: the same value, first as Institution Name, then as Accession Number.
    MemoryPseudonymSource src;
    Values va;
    va.institution = "ZORBLAXCO";
    DcmFileFormat a = make(va);
    a.getDataset()->putAndInsertString(DCM_Manufacturer, "ZORBLAXCO Medical");
    deid::apply(profile({}), a, src);
    CHECK(str(*a.getDataset(), DCM_Manufacturer) == "ZORBLAXCO Medical");
    DcmFileFormat b = make(Values{});
    b.getDataset()->putAndInsertString(DCM_AccessionNumber, "ZORBLAXCO");
    b.getDataset()->putAndInsertString(DCM_Manufacturer, "ZORBLAXCO Medical");
    deid::apply(profile({}), b, src);
    CHECK(str(*b.getDataset(), DCM_Manufacturer) == "[removed] Medical");
}

TEST_CASE("memo attacks: the same patient with other staff, institution, device, ids and dates is cleaned of its own") {
    // A key of the patient's name and id alone would give B the cleaner of A.
    const Profile p = profile({"clean_descriptors"});
    MemoryPseudonymSource src;
    Values a, b;
    SECTION("referring physician") {
        a.physician = "QUIXBY^ZELDA";
        b.physician = "VORTEL^AMOS";
        b.comments = "ref by Amos Vortel";
        REQUIRE(comments_after(p, a, src) == "<absent>");
        CHECK(comments_after(p, b, src) == "ref by [removed]");
    }
    SECTION("a staff name two sequences down") {
        a.nested_name = "QUIXBY^ZELDA";
        b.nested_name = "VORTEL^AMOS";
        b.comments = "done by Vortel";
        comments_after(p, a, src);
        CHECK(comments_after(p, b, src) == "done by [removed]");
    }
    SECTION("institution") {
        a.institution = "Quixby Memorial";
        b.institution = "Vortelmoor Clinic";
        b.comments = "from Vortelmoor";
        comments_after(p, a, src);
        CHECK(comments_after(p, b, src) == "from [removed]");
    }
    SECTION("station and device serial number") {
        a.station = "QXSTATION";
        a.serial = "QXA";
        b.station = "VRSTATION";
        b.serial = "VRB";
        b.comments = "on VRSTATION unit VRB";
        comments_after(p, a, src);
        CHECK(comments_after(p, b, src) == "on [removed] unit [removed]");
    }
    SECTION("another id of the patient, in a sequence") {
        a.other_id = "Q7X";
        b.other_id = "W4M";
        b.comments = "old MRN W4M";
        comments_after(p, a, src);
        CHECK(comments_after(p, b, src) == "old MRN [removed]");
    }
    SECTION("another name of the patient") {
        a.alias = "ROE^JANET";
        b.alias = "VORTEL^JANE";
        b.comments = "born Vortel";
        comments_after(p, a, src);
        CHECK(comments_after(p, b, src) == "born [removed]");
    }
    SECTION("a date of the instance: removed from text, not shifted like any other date") {
        const Profile shift = profile({"clean_descriptors", "retain_long_modified_dates"});
        a.study_date = "20220301";
        b.study_date = "20220314";
        b.comments = "seen 14 March 2022, before 1 March 2022";
        comments_after(shift, a, src);
        CHECK(comments_after(shift, b, src) ==
              "seen [removed], before " + shifted_iso("20220301", src.date_offset("HOSP", "K9Z")));
    }
}

TEST_CASE("memo attacks: the same instance under another profile is cleaned of what that profile does not keep") {
    // retain_institution_identity and retain_device_identity keep the institution, station and
    // serial number out of the cleaner; the next instance, under a profile without them, must not
    // be cleaned with that cleaner. And the other way round.
    MemoryPseudonymSource src;
    Values v;
    v.institution = "Vortelmoor Clinic";
    v.station = "VRSTATION";
    v.serial = "VRB";
    v.comments = "at Vortelmoor on VRSTATION unit VRB";
    const Profile keeps = profile({"clean_descriptors", "retain_institution_identity", "retain_device_identity"});
    const Profile removes = profile({"clean_descriptors"});
    CHECK(comments_after(keeps, v, src) == "at Vortelmoor on VRSTATION unit VRB");
    CHECK(comments_after(removes, v, src) == "at [removed] on [removed] unit [removed]");
    CHECK(comments_after(keeps, v, src) == "at Vortelmoor on VRSTATION unit VRB");
}

TEST_CASE("memo attacks: the same bytes in another character set are other values") {
    // "J\xD6RG M\xDCLLER" in ISO 8859-1 is "JÖRG MÜLLER"; in ISO 8859-5 another name.
    MemoryPseudonymSource src;
    auto run = [&](const char* charset) {
        Values v;
        v.patient_name = "M\xDCLLER^J\xD6RG";
        v.comments = "seen for J\xD6RG M\xDCLLER today";
        DcmFileFormat f = make(v);
        f.getDataset()->putAndInsertString(DCM_SpecificCharacterSet, charset);
        deid::apply(profile({"clean_descriptors"}), f, src);
        CHECK(str(*f.getDataset(), DCM_SpecificCharacterSet) == charset);
        return str(*f.getDataset(), DCM_ImageComments);
    };
    CHECK(run("ISO_IR 100") == "seen for [removed] today");
    CHECK(run("ISO_IR 144") == "seen for [removed] today");
    CHECK(run("ISO_IR 100") == "seen for [removed] today");
}

TEST_CASE("memo attacks: the same values with another patient's date offset shift text dates by this one's") {
    // Issuer of Patient ID gives the broker's answer, not the cleaner: the cleaner is kept, the
    // shift must be B's own.
    const Profile shift = profile({"clean_descriptors", "retain_long_modified_dates"});
    MemoryPseudonymSource src;
    REQUIRE(src.date_offset("HOSP", "K9Z") != src.date_offset("OTHER", "K9Z"));
    Values a, b;
    a.comments = b.comments = "seen 14 March 2022";
    b.issuer = "OTHER";
    CHECK(comments_after(shift, a, src) == "seen " + shifted_iso("20220314", src.date_offset("HOSP", "K9Z")));
    CHECK(comments_after(shift, b, src) == "seen " + shifted_iso("20220314", src.date_offset("OTHER", "K9Z")));
}

TEST_CASE("memo attacks: an instance after one whose broker call failed is cleaned of its own values, with its own dates") {
    // The cleaner is built before the broker is asked: a failure there leaves a cleaner for the
    // failed instance's values, with the date shift of the instance before still set on it.
    const Profile shift = profile({"clean_descriptors", "retain_long_modified_dates"});
    const Profile plain = profile({"clean_descriptors"});
    MemoryPseudonymSource src;
    Values a, b;
    a.physician = "QUIXBY^ZELDA";
    a.comments = "ref by Zelda Quixby, seen 14 March 2022";
    b.patient_name = "VORTEL^AMOS";
    b.patient_id = "W4M";
    b.comments = "for Amos Vortel, MRN W4M, ref by Zelda Quixby, seen 14 March 2022";
    auto fails = [&](const Profile& p, const Values& v) {
        src.unavailable = true;
        DcmFileFormat f = make(v);
        CHECK_THROWS_AS(deid::apply(p, f, src), deid::PseudonymUnavailable);
        src.unavailable = false;
    };
    const std::string b_shifted = shifted_iso("20220314", src.date_offset("HOSP", "W4M"));
    CHECK(comments_after(shift, a, src) == "ref by [removed], seen " + shifted_iso("20220314", src.date_offset("HOSP", "K9Z")));
    fails(plain, b);
    CHECK(comments_after(plain, b, src) == "for [removed], MRN [removed], ref by Zelda Quixby, seen [removed]");
    CHECK(comments_after(shift, b, src) == "for [removed], MRN [removed], ref by Zelda Quixby, seen " + b_shifted);
    // The same values again, failing under a profile without the shift, then without it again.
    fails(plain, b);
    CHECK(comments_after(plain, b, src) == "for [removed], MRN [removed], ref by Zelda Quixby, seen [removed]");
}

// ---- the verifier's needles (Verifier.cpp NeedleMemo) -------------------------------------------

TEST_CASE("memo attacks: verifier: a value that was an institution before is this patient's id", "[verifier]") {
    // An institution's needles are not searched in coded strings; a patient id's are.
    auto out = make_output();
    DcmFileFormat a = make_instance("1.2.826.0.1.3680043.2.1125.9.1");
    a.getDataset()->putAndInsertString(DCM_InstitutionName, "ZORBLAXCO");
    const auto a_ids = deid::collect_identifiers(a);
    out->getDataset()->putAndInsertString(DCM_BodyPartExamined, "ZORBLAXCO");
    CHECK(deid::verify(verifier_profile(), a_ids, *out).clean());
    DcmFileFormat b = make_instance("1.2.826.0.1.3680043.2.1125.9.2");
    b.getDataset()->putAndInsertString(DCM_PatientID, "ZORBLAXCO");
    const auto b_ids = deid::collect_identifiers(b);
    CHECK(leaked(deid::verify(verifier_profile(), b_ids, *out), "(0018,0015)", "patient_id"));
}

TEST_CASE("memo attacks: verifier: a study date before is this patient's birth date, under a profile that keeps dates", "[verifier]") {
    // retain_long_full_dates keeps dates, not the birth date: A (verified without the option)
    // gives the needles of 19800101 as a date, B holds it as its birth date.
    auto out = make_output();
    out->getDataset()->putAndInsertString(DCM_PatientBirthDate, "19800101");
    DcmFileFormat a = make_instance("1.2.826.0.1.3680043.2.1125.9.1");
    a.getDataset()->putAndInsertString(DCM_StudyDate, "19800101");
    const auto a_ids = deid::collect_identifiers(a);
    CHECK(leaked(deid::verify(verifier_profile(), a_ids, *out), "(0010,0030)", "date"));
    DcmFileFormat b = make_instance("1.2.826.0.1.3680043.2.1125.9.2");
    b.getDataset()->putAndInsertString(DCM_StudyDate, "20220319");
    b.getDataset()->putAndInsertString(DCM_PatientBirthDate, "19800101");
    const auto b_ids = deid::collect_identifiers(b);
    const auto r = deid::verify(verifier_profile({"retain_long_full_dates"}), b_ids, *out);
    CHECK(leaked(r, "(0010,0030)", "birth_date"));
    CHECK_FALSE(leaked(r, "(0010,0030)", "date"));
}

TEST_CASE("memo attacks: verifier: staff names, other ids and aliases of this instance, at depth, are its own", "[verifier]") {
    auto out = make_output();
    DcmDataset* ds = out->getDataset();
    Values a, b;
    a.physician = "QUIXBY^ZELDA";
    a.nested_name = "QUIXBY^ZELDA";
    a.other_id = "Q7X";
    a.alias = "ROE^JANET";
    b.physician = "VORTEL^AMOS";
    b.nested_name = "KESTRAL^IDA";
    b.other_id = "W4M";
    b.alias = "MAPLETHORPE^JANE";
    DcmFileFormat fa = make(a), fb = make(b);
    const auto a_ids = deid::collect_identifiers(fa);
    const auto b_ids = deid::collect_identifiers(fb);
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST ref Zelda Quixby, old MRN Q7X, Janet Roe");
    CHECK(leaked(deid::verify(verifier_profile(), a_ids, *out), "(0008,1030)", "staff_name"));
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST ref Amos Vortel");
    auto r = deid::verify(verifier_profile(), b_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "staff_name"));
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST by Ida Kestral");
    r = deid::verify(verifier_profile(), b_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "staff_name"));
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST old MRN W4M");
    r = deid::verify(verifier_profile(), b_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "patient_id"));
    ds->putAndInsertString(DCM_StudyDescription, "CT CHEST Maplethorpe");
    r = deid::verify(verifier_profile(), b_ids, *out);
    CHECK(leaked(r, "(0008,1030)", "patient_name"));
}

TEST_CASE("memo attacks: verifier: the same bytes in another character set are other values", "[verifier]") {
    auto original = [](const char* charset) {
        DcmFileFormat f = make_instance("1.2.826.0.1.3680043.2.1125.9.1");
        f.getDataset()->putAndInsertString(DCM_SpecificCharacterSet, charset);
        f.getDataset()->putAndInsertString(DCM_PatientName, "M\xDCLLER^J\xD6RG");
        return deid::collect_identifiers(f);
    };
    auto output = [](const char* charset) {
        auto out = make_output();
        out->getDataset()->putAndInsertString(DCM_SpecificCharacterSet, charset);
        out->getDataset()->putAndInsertString(DCM_StudyDescription, "CT f\xFCr J\xD6RG M\xDCLLER");
        return out;
    };
    const auto latin1 = original("ISO_IR 100");
    const auto cyrillic = original("ISO_IR 144");
    auto out_latin1 = output("ISO_IR 100");
    auto out_cyrillic = output("ISO_IR 144");
    CHECK(leaked(deid::verify(verifier_profile(), latin1, *out_latin1), "(0008,1030)", "patient_name"));
    CHECK(leaked(deid::verify(verifier_profile(), cyrillic, *out_cyrillic), "(0008,1030)", "patient_name"));
    CHECK(leaked(deid::verify(verifier_profile(), latin1, *out_latin1), "(0008,1030)", "patient_name"));
}

namespace {

// A source that, as its answer is asked for, de-identifies another patient's instance on the same
// thread (no production source does; the memo must not depend on that).
class NestingSource : public deid::PseudonymSource {
public:
    NestingSource(const Profile& p, MemoryPseudonymSource& inner) : p_(p), inner_(inner) {}
    deid::PseudonymReply resolve(const deid::PseudonymRequest& request) override {
        Values other;
        other.patient_name = "PLOVIK^ORSOLA";
        other.patient_id = "Q7W";
        other.comments = "seen by PLOVIK";
        nested_comments = comments_after(p_, other, inner_);
        return inner_.resolve(request);
    }
    std::string nested_comments;

private:
    const Profile& p_;
    MemoryPseudonymSource& inner_;
};

}  // namespace

TEST_CASE("memo attacks: an instance de-identified from inside another's pseudonym source leaves the outer one its own cleaner") {
    const Profile p = profile({"clean_descriptors"});
    MemoryPseudonymSource inner;
    NestingSource outer_source(p, inner);
    Values outer;
    outer.patient_name = "VANTROSK^ILKA";
    outer.patient_id = "M4X";
    outer.comments = "VANTROSK follow-up";
    CHECK(comments_after(p, outer, outer_source) == "[removed] follow-up");
    CHECK(outer_source.nested_comments == "seen by [removed]");
}
