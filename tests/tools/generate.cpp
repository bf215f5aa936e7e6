// deid-generate: the project's own test corpora.
//   deid-generate phi --out DIR --key FILE.json
//       several patients, each with several studies on different dates, identifying values planted
//       in headers, nested sequences, private elements, free text and Comprehensive SR content,
//       references between instances, and an answer key (JSON).
//   deid-generate ct --count N --size 512 --out DIR
//       N CT instances of one study/series (16 bit), for benchmarks.
// Every value here is synthetic.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* kRoot = "1.2.826.0.1.3680043.8.498.9917";  // synthetic UIDs under a test root

struct Patient {
    std::string key;
    std::string family, given, middle;  // UTF-8
    std::string charset;               // "" or "ISO_IR 100" (names then written in Latin-1)
    std::string id, issuer, other_id, birth_date, sex;
    std::vector<std::string> study_dates;
    std::string physician_family, physician_given, operator_family, operator_given;
    std::string institution, address, station, serial;
};

// UTF-8 -> Latin-1 for the characters used here (U+0000..U+00FF).
std::string to_latin1(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) out += static_cast<char>(c);
        else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
            out += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F));
            ++i;
        }
    }
    return out;
}

std::string us_date(const std::string& d) { return d.substr(4, 2) + "/" + d.substr(6, 2) + "/" + d.substr(0, 4); }

class Writer {
public:
    Writer(fs::path out) : out_(std::move(out)) {}

    // One instance of a patient's study; returns the answer-key entry.
    json write(const Patient& p, std::size_t study, int series, int number, const std::string& kind,
               const std::vector<std::pair<std::string, std::string>>& references /* (class, instance) */) {
        DcmFileFormat ff;
        DcmDataset* ds = ff.getDataset();
        const std::string date = p.study_dates[study];
        const std::string study_uid = uid("1", p, study, 0, 0);
        const std::string series_uid = uid("2", p, study, series, 0);
        const std::string sop_uid = uid("3", p, study, series, number);
        const std::string frame_uid = uid("4", p, study, 0, 0);
        const bool sr = kind == "sr";
        const char* sop_class = sr ? UID_ComprehensiveSRStorage : UID_CTImageStorage;
        auto text = [&](const std::string& s) { return p.charset.empty() ? s : to_latin1(s); };
        const std::string pn = p.family + "^" + p.given + "^" + p.middle;

        if (!p.charset.empty()) ds->putAndInsertString(DCM_SpecificCharacterSet, p.charset.c_str());
        ds->putAndInsertString(DCM_SOPClassUID, sop_class);
        ds->putAndInsertString(DCM_SOPInstanceUID, sop_uid.c_str());
        ds->putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
        ds->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
        ds->putAndInsertString(DCM_StudyDate, date.c_str());
        ds->putAndInsertString(DCM_SeriesDate, date.c_str());
        ds->putAndInsertString(DCM_ContentDate, date.c_str());
        ds->putAndInsertString(DCM_StudyTime, "093000");
        ds->putAndInsertString(DCM_SeriesTime, "093500");
        ds->putAndInsertString(DCM_ContentTime, "094000");
        ds->putAndInsertString(DCM_AccessionNumber, accession(p, study).c_str());
        ds->putAndInsertString(DCM_Modality, sr ? "SR" : "CT");
        ds->putAndInsertString(DCM_Manufacturer, "SYNTHETIC MEDICAL");
        ds->putAndInsertString(DCM_InstitutionName, text(p.institution).c_str());
        ds->putAndInsertString(DCM_InstitutionAddress, text(p.address).c_str());
        ds->putAndInsertString(DCM_ReferringPhysicianName, text(p.physician_family + "^" + p.physician_given).c_str());
        ds->putAndInsertString(DCM_PerformingPhysicianName, text(p.physician_family + "^" + p.physician_given).c_str());
        ds->putAndInsertString(DCM_OperatorsName, text(p.operator_family + "^" + p.operator_given).c_str());
        ds->putAndInsertString(DCM_StationName, p.station.c_str());
        ds->putAndInsertString(DCM_StudyDescription,
                               text("CT CHEST W CONTRAST for " + p.given + " " + p.family + ", MRN " + p.id + ", prior " +
                                    us_date(p.study_dates[0])).c_str());
        ds->putAndInsertString(DCM_SeriesDescription, sr ? "REPORT" : (series == 1 ? "AXIAL 5MM" : "DERIVED MPR"));
        ds->putAndInsertString(DCM_PatientName, text(pn).c_str());
        ds->putAndInsertString(DCM_PatientID, p.id.c_str());
        ds->putAndInsertString(DCM_IssuerOfPatientID, p.issuer.c_str());
        ds->putAndInsertString(DCM_RETIRED_OtherPatientIDs, p.other_id.c_str());
        ds->putAndInsertString(DCM_PatientBirthDate, p.birth_date.c_str());
        ds->putAndInsertString(DCM_PatientSex, p.sex.c_str());
        ds->putAndInsertString(DCM_PatientAge, "061Y");
        ds->putAndInsertString(DCM_AdditionalPatientHistory, text("Patient " + p.family + " seen on " + date).c_str());
        ds->putAndInsertString(DCM_StudyID, ("ST" + p.id.substr(4) + std::to_string(study)).c_str());
        ds->putAndInsertString(DCM_SeriesNumber, std::to_string(series).c_str());
        ds->putAndInsertString(DCM_InstanceNumber, std::to_string(next_number_).c_str());
        ds->putAndInsertString(DCM_DeviceSerialNumber, p.serial.c_str());
        ds->putAndInsertString(DCM_FrameOfReferenceUID, frame_uid.c_str());

        // Nested: Request Attributes Sequence > Referenced Study Sequence, with ids and a UID.
        DcmItem* req = nullptr;
        ds->findOrCreateSequenceItem(DCM_RequestAttributesSequence, req, 0);
        req->putAndInsertString(DCM_AccessionNumber, accession(p, study).c_str());
        req->putAndInsertString(DCM_RequestedProcedureID, ("RP" + p.id.substr(4) + std::to_string(study)).c_str());
        req->putAndInsertString(DCM_ScheduledProcedureStepID, ("SPS" + p.id.substr(4)).c_str());
        DcmItem* rs = nullptr;
        req->findOrCreateSequenceItem(DCM_ReferencedStudySequence, rs, 0);
        rs->putAndInsertString(DCM_ReferencedSOPClassUID, "1.2.840.10008.3.1.2.3.1");
        rs->putAndInsertString(DCM_ReferencedSOPInstanceUID, study_uid.c_str());
        // Other Patient IDs Sequence with the other id.
        DcmItem* op = nullptr;
        ds->findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, op, 0);
        op->putAndInsertString(DCM_PatientID, p.other_id.c_str());
        op->putAndInsertString(DCM_TypeOfPatientID, "TEXT");

        // Private: a creator, a name, and a private sequence holding the id and the birth date.
        ds->putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "SYNTHETIC PHI PRIVATE");
        ds->putAndInsertString(DcmTag(0x0029, 0x1001, EVR_LO), text(p.family + "^" + p.given).c_str());
        DcmItem* priv = nullptr;
        ds->findOrCreateSequenceItem(DcmTag(0x0029, 0x1002, EVR_SQ), priv, 0);
        priv->putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "SYNTHETIC PHI PRIVATE");
        priv->putAndInsertString(DcmTag(0x0029, 0x1003, EVR_LO), p.id.c_str());
        priv->putAndInsertString(DcmTag(0x0029, 0x1004, EVR_DA), p.birth_date.c_str());

        json entry;
        if (!references.empty() && !sr) {
            // Derived image: Referenced Image Sequence and Source Image Sequence into series 1.
            for (std::size_t i = 0; i < references.size(); ++i) {
                DcmItem* ri = nullptr;
                ds->findOrCreateSequenceItem(DCM_ReferencedImageSequence, ri, static_cast<signed long>(i));
                ri->putAndInsertString(DCM_ReferencedSOPClassUID, references[i].first.c_str());
                ri->putAndInsertString(DCM_ReferencedSOPInstanceUID, references[i].second.c_str());
                DcmItem* si = nullptr;
                ds->findOrCreateSequenceItem(DCM_SourceImageSequence, si, static_cast<signed long>(i));
                si->putAndInsertString(DCM_ReferencedSOPClassUID, references[i].first.c_str());
                si->putAndInsertString(DCM_ReferencedSOPInstanceUID, references[i].second.c_str());
            }
        }
        if (sr) write_sr(*ds, p, study, references, text);
        else write_image(*ds, number);

        ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, sop_class);
        ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop_uid.c_str());
        const std::string name = p.key + "_s" + std::to_string(study) + "_" + kind + std::to_string(series) + "_" +
                                 std::to_string(number) + ".dcm";
        OFCondition c = ff.saveFile((out_ / name).c_str(), EXS_LittleEndianExplicit);
        if (c.bad()) throw std::runtime_error(std::string("cannot write ") + name + ": " + c.text());

        entry["file"] = name;
        entry["patient"] = p.key;
        entry["study"] = study;
        entry["kind"] = kind;
        entry["instance_number"] = next_number_++;
        entry["sop_class_uid"] = sop_class;
        entry["sop_instance_uid"] = sop_uid;
        entry["references"] = json::array();
        for (auto& r : references) entry["references"].push_back(r.second);
        std::vector<std::string> ident = {pn, p.family, p.given, p.middle, p.id, p.issuer, p.other_id,
                                          p.birth_date, accession(p, study), p.institution, p.address,
                                          p.physician_family, p.physician_given, p.operator_family,
                                          p.operator_given, p.station, p.serial, study_uid, series_uid, sop_uid,
                                          frame_uid, date, us_date(date), p.study_dates[0], us_date(p.study_dates[0])};
        for (auto& r : references) ident.push_back(r.second);
        entry["identifying"] = ident;
        return entry;
    }

    std::string uid(const std::string& what, const Patient& p, std::size_t study, int series, int number) const {
        return std::string(kRoot) + "." + what + "." + p.id.substr(4) + "." + std::to_string(study + 1) + "." +
               std::to_string(series) + "." + std::to_string(number);
    }
    static std::string accession(const Patient& p, std::size_t study) { return "ACC" + p.id.substr(4) + "0" + std::to_string(study + 7); }

private:
    void write_image(DcmDataset& ds, int number) {
        const int n = 64;
        ds.putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
        ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds.putAndInsertUint16(DCM_Rows, n);
        ds.putAndInsertUint16(DCM_Columns, n);
        ds.putAndInsertUint16(DCM_BitsAllocated, 16);
        ds.putAndInsertUint16(DCM_BitsStored, 12);
        ds.putAndInsertUint16(DCM_HighBit, 11);
        ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
        ds.putAndInsertString(DCM_PixelSpacing, "0.703125\\0.703125");
        ds.putAndInsertString(DCM_SliceThickness, "5.0");
        ds.putAndInsertString(DCM_ImagePositionPatient, ("-180.0\\-180.0\\" + std::to_string(-100 + 5 * number) + ".0").c_str());
        ds.putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
        ds.putAndInsertString(DCM_RescaleIntercept, "-1024");
        ds.putAndInsertString(DCM_RescaleSlope, "1");
        ds.putAndInsertString(DCM_RescaleType, "HU");
        ds.putAndInsertString(DCM_KVP, "120");
        ds.putAndInsertString(DCM_WindowCenter, "40");
        ds.putAndInsertString(DCM_WindowWidth, "400");
        ds.putAndInsertString(DCM_ImageComments, "no burned-in text");
        std::vector<Uint16> px(n * n);
        for (int i = 0; i < n * n; ++i) px[i] = static_cast<Uint16>((i * 37 + number * 101) % 4096);
        ds.putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
    }

    template <class Text>
    void write_sr(DcmDataset& ds, const Patient& p, std::size_t study,
                  const std::vector<std::pair<std::string, std::string>>& references, Text text) {
        ds.putAndInsertString(DCM_ValueType, "CONTAINER");
        ds.putAndInsertString(DCM_ContinuityOfContent, "SEPARATE");
        ds.putAndInsertString(DCM_CompletionFlag, "COMPLETE");
        ds.putAndInsertString(DCM_VerificationFlag, "UNVERIFIED");
        code(ds, DCM_ConceptNameCodeSequence, "18748-4", "LN", "Diagnostic Imaging Report");
        ds.insertEmptyElement(DCM_ReferencedPerformedProcedureStepSequence);
        ds.insertEmptyElement(DCM_PerformedProcedureCodeSequence);
        signed long k = 0;
        auto item = [&](const char* relation, const char* type, const char* cv, const char* meaning) {
            DcmItem* it = nullptr;
            ds.findOrCreateSequenceItem(DCM_ContentSequence, it, k++);
            it->putAndInsertString(DCM_RelationshipType, relation);
            it->putAndInsertString(DCM_ValueType, type);
            code(*it, DCM_ConceptNameCodeSequence, cv, "DCM", meaning);
            return it;
        };
        item("CONTAINS", "TEXT", "121071", "Finding")
            ->putAndInsertString(DCM_TextValue, text("Nodule unchanged since " + us_date(p.study_dates[0]) + " in " + p.given +
                                                     " " + p.family + " (MRN " + p.id + ")").c_str());
        item("CONTAINS", "PNAME", "121008", "Person Observer Name")
            ->putAndInsertString(DCM_PersonName, text(p.physician_family + "^" + p.physician_given).c_str());
        item("CONTAINS", "DATE", "111060", "Study Date")->putAndInsertString(DCM_Date, p.study_dates[study].c_str());
        item("CONTAINS", "UIDREF", "121018", "Procedure Study Instance UID")
            ->putAndInsertString(DCM_UID, uid("1", p, study, 0, 0).c_str());
        // Evidence: the images this report is about.
        DcmItem* ev = nullptr;
        ds.findOrCreateSequenceItem(DCM_CurrentRequestedProcedureEvidenceSequence, ev, 0);
        ev->putAndInsertString(DCM_StudyInstanceUID, uid("1", p, study, 0, 0).c_str());
        DcmItem* se = nullptr;
        ev->findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, se, 0);
        se->putAndInsertString(DCM_SeriesInstanceUID, uid("2", p, study, 1, 0).c_str());
        for (std::size_t i = 0; i < references.size(); ++i) {
            DcmItem* r = nullptr;
            se->findOrCreateSequenceItem(DCM_ReferencedSOPSequence, r, static_cast<signed long>(i));
            r->putAndInsertString(DCM_ReferencedSOPClassUID, references[i].first.c_str());
            r->putAndInsertString(DCM_ReferencedSOPInstanceUID, references[i].second.c_str());
            DcmItem* img = item("CONTAINS", "IMAGE", "121080", "Best illustration of finding");
            DcmItem* ref = nullptr;
            img->findOrCreateSequenceItem(DCM_ReferencedSOPSequence, ref, 0);
            ref->putAndInsertString(DCM_ReferencedSOPClassUID, references[i].first.c_str());
            ref->putAndInsertString(DCM_ReferencedSOPInstanceUID, references[i].second.c_str());
        }
    }

    static void code(DcmItem& parent, const DcmTagKey& seq, const char* value, const char* scheme, const char* meaning) {
        DcmItem* c = nullptr;
        parent.findOrCreateSequenceItem(seq, c, 0);
        c->putAndInsertString(DCM_CodeValue, value);
        c->putAndInsertString(DCM_CodingSchemeDesignator, scheme);
        c->putAndInsertString(DCM_CodeMeaning, meaning);
    }

    fs::path out_;
    int next_number_ = 1;
};

std::vector<Patient> patients() {
    Patient a{"P1", "Whitfield", "Marguerite", "Rosalind", "", "MRN-48213", "NORTHVALE", "OTH-77120", "19580314", "F",
              {"20190611", "20211104"}, "Castellano", "Rodrigo", "Pemberton", "Lucille",
              "Northvale Memorial Hospital", "42 Harbour Road, Northvale", "NVCT02", "SN-NV-55821"};
    Patient b{"P2", "Müller", "Jürgen", "Österberg", "ISO_IR 100", "MRN-90357", "SUEDKLINIK", "OTH-31984", "19470823", "M",
              {"20180225", "20200917"}, "Hoffstetter", "Annegret", "Quillfeld", "Bastian",
              "Südklinik Rosenheim", "Lindenallee 9, Rosenheim", "SKCT11", "SN-SK-10394"};
    Patient c{"P3", "Okonkwo", "Chidubem", "Ifeoma", "", "MRN-62741", "LAKESIDE", "OTH-50663", "19731130", "M",
              {"20200402", "20230118"}, "Vasquez-Rain", "Theodora", "Lindqvist", "Soren",
              "Lakeside Regional Clinic", "7 Quarry Lane, Lakeside", "LRCT05", "SN-LR-80412"};
    return {a, b, c};
}

int generate_phi(const fs::path& out, const fs::path& key_path) {
    fs::create_directories(out);
    Writer w(out);
    json key;
    key["instances"] = json::array();
    key["patients"] = json::array();
    for (const Patient& p : patients()) {
        json pj;
        pj["key"] = p.key;
        pj["study_dates"] = p.study_dates;
        pj["patient_id"] = p.id;
        pj["patient_name"] = p.family + "^" + p.given + "^" + p.middle;
        key["patients"].push_back(pj);
        for (std::size_t s = 0; s < p.study_dates.size(); ++s) {
            std::vector<std::pair<std::string, std::string>> images;
            for (int i = 1; i <= 2; ++i) {
                key["instances"].push_back(w.write(p, s, 1, i, "ct", {}));
                images.emplace_back(UID_CTImageStorage, w.uid("3", p, s, 1, i));
            }
            key["instances"].push_back(w.write(p, s, 2, 1, "ct", images));
            key["instances"].push_back(w.write(p, s, 3, 1, "sr", images));
        }
    }
    std::FILE* f = std::fopen(key_path.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write the key file");
    const std::string text = key.dump(2);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    std::cout << "wrote " << key["instances"].size() << " instances of " << key["patients"].size() << " patients\n";
    return 0;
}

int generate_ct(const fs::path& out, int count, int size) {
    fs::create_directories(out);
    const std::string study = std::string(kRoot) + ".10.1", series = std::string(kRoot) + ".10.2";
    const std::string frame = std::string(kRoot) + ".10.3";
    std::vector<Uint16> px(static_cast<std::size_t>(size) * size);
    std::uint32_t state = 2463534242u;
    for (int n = 1; n <= count; ++n) {
        DcmFileFormat ff;
        DcmDataset* ds = ff.getDataset();
        const std::string sop = std::string(kRoot) + ".11." + std::to_string(n);
        ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
        ds->putAndInsertString(DCM_StudyInstanceUID, study.c_str());
        ds->putAndInsertString(DCM_SeriesInstanceUID, series.c_str());
        ds->putAndInsertString(DCM_FrameOfReferenceUID, frame.c_str());
        ds->putAndInsertString(DCM_StudyDate, "20220319");
        ds->putAndInsertString(DCM_SeriesDate, "20220319");
        ds->putAndInsertString(DCM_AcquisitionDate, "20220319");
        ds->putAndInsertString(DCM_ContentDate, "20220319");
        ds->putAndInsertString(DCM_StudyTime, "101500");
        ds->putAndInsertString(DCM_AccessionNumber, "ACC2022031901");
        ds->putAndInsertString(DCM_Modality, "CT");
        ds->putAndInsertString(DCM_Manufacturer, "SYNTHETIC MEDICAL");
        ds->putAndInsertString(DCM_ManufacturerModelName, "BENCH 64");
        ds->putAndInsertString(DCM_InstitutionName, "Benchmark General Hospital");
        ds->putAndInsertString(DCM_ReferringPhysicianName, "Referrer^Rita");
        ds->putAndInsertString(DCM_StationName, "BENCHCT1");
        ds->putAndInsertString(DCM_StudyDescription, "CT CHEST W CONTRAST");
        ds->putAndInsertString(DCM_SeriesDescription, "AXIAL 1MM");
        ds->putAndInsertString(DCM_PatientName, "Benchmark^Barbara");
        ds->putAndInsertString(DCM_PatientID, "MRN-100200");
        ds->putAndInsertString(DCM_PatientBirthDate, "19600101");
        ds->putAndInsertString(DCM_PatientSex, "F");
        ds->putAndInsertString(DCM_PatientAge, "062Y");
        ds->putAndInsertString(DCM_StudyID, "1");
        ds->putAndInsertString(DCM_SeriesNumber, "1");
        ds->putAndInsertString(DCM_InstanceNumber, std::to_string(n).c_str());
        ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
        ds->putAndInsertString(DCM_KVP, "120");
        ds->putAndInsertString(DCM_SliceThickness, "1.0");
        ds->putAndInsertString(DCM_PixelSpacing, "0.68\\0.68");
        ds->putAndInsertString(DCM_ImagePositionPatient, ("-174\\-174\\" + std::to_string(-n)).c_str());
        ds->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
        ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
        ds->putAndInsertString(DCM_RescaleSlope, "1");
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(size));
        ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(size));
        ds->putAndInsertUint16(DCM_BitsAllocated, 16);
        ds->putAndInsertUint16(DCM_BitsStored, 12);
        ds->putAndInsertUint16(DCM_HighBit, 11);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        for (auto& v : px) {  // xorshift32: random-ish, fast
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            v = static_cast<Uint16>(state & 0x0FFF);
        }
        ds->putAndInsertUint16Array(DCM_PixelData, px.data(), static_cast<unsigned long>(px.size()));
        ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, UID_CTImageStorage);
        ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop.c_str());
        char name[32];
        std::snprintf(name, sizeof name, "ct_%06d.dcm", n);
        if (ff.saveFile((out / name).c_str(), EXS_LittleEndianExplicit).bad()) {
            std::cerr << "deid-generate: cannot write " << (out / name) << "\n";
            return 1;
        }
    }
    std::cout << "wrote " << count << " CT instances (" << size << "x" << size << ", 16 bit)\n";
    return 0;
}

constexpr const char* kUsage =
    "usage: deid-generate phi --out DIR --key FILE.json\n"
    "       deid-generate ct --count N [--size 512] --out DIR\n";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string command = argv[1];
    std::string out, key;
    int count = 0, size = 512;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        try {
            if (a == "--out") out = next();
            else if (a == "--key") key = next();
            else if (a == "--count") count = std::stoi(next());
            else if (a == "--size") size = std::stoi(next());
            else {
                std::cerr << "deid-generate: unknown argument " << a << "\n" << kUsage;
                return 2;
            }
        } catch (const std::exception& e) {
            std::cerr << "deid-generate: " << e.what() << "\n" << kUsage;
            return 2;
        }
    }
    try {
        if (command == "phi" && !out.empty() && !key.empty()) return generate_phi(out, key);
        if (command == "ct" && !out.empty() && count > 0 && size > 0 && size <= 4096) return generate_ct(out, count, size);
    } catch (const std::exception& e) {
        std::cerr << "deid-generate: " << e.what() << "\n";
        return 1;
    }
    std::cerr << kUsage;
    return 2;
}
