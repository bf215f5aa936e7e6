// deid-adversarial: the adversarial corpus of issue 11, instances written to trick a
// de-identifier, with an answer key.
//   deid-adversarial --out DIR --key FILE.json
// Each instance plants identifiers the header does not spell out as written: names in other
// cases, scripts and spellings, relatives' and doctors' names, phone numbers, e-mail addresses,
// national identifiers, postcodes, addresses, dates in free text in many forms and languages,
// malformed DA/DT values, identifiers in coded strings, allow-listed text, safe private text and
// binary, SR code meanings, coding scheme and class UIDs, waveform annotations, ages over 89, and
// Japanese / Korean / Chinese instances whose text identifies nobody (they must be released).
// The key lists, per instance, every planted value (what must not be released), the planted
// dates (to be shifted or removed), and text that must survive. Every value here is synthetic.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <nlohmann/json.hpp>
#include <unicode/ucnv.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* kRoot = "1.2.826.0.1.3680043.8.498.11";  // synthetic UIDs under a test root

// UTF-8 -> a character set by its ICU converter name ("" = UTF-8 unchanged).
std::string encode(const std::string& utf8, const char* converter) {
    if (!converter || !*converter) return utf8;
    UErrorCode e = U_ZERO_ERROR;
    std::vector<char> out(utf8.size() * 4 + 16);
    const int32_t n = ucnv_convert(converter, "UTF-8", out.data(), static_cast<int32_t>(out.size()), utf8.data(),
                                   static_cast<int32_t>(utf8.size()), &e);
    if (U_FAILURE(e)) throw std::runtime_error(std::string("cannot encode to ") + converter);
    return std::string(out.data(), static_cast<std::size_t>(n));
}

// ISO 2022 IR 149 / IR 58: each run of non-ASCII text is announced by its G1 escape sequence
// (ESC $ ) C for KS X 1001, ESC $ ) A for GB 2312), the bytes in GR (EUC form).
std::string encode_iso2022_g1(const std::string& utf8, const char* euc, const char* escape) {
    std::string out;
    std::size_t i = 0;
    while (i < utf8.size()) {
        if (static_cast<unsigned char>(utf8[i]) < 0x80) {
            out += utf8[i++];
            continue;
        }
        std::size_t j = i;
        while (j < utf8.size() && static_cast<unsigned char>(utf8[j]) >= 0x80) ++j;
        out += escape;
        out += encode(utf8.substr(i, j - i), euc);
        i = j;
    }
    return out;
}

// ISO 2022 IR 87: ICU's ISO-2022-JP writes ESC $ B ... ESC ( B around kanji and kana; each
// PN component or value separately, so every delimiter is in ASCII.
std::string encode_iso2022_jp(const std::string& utf8) {
    std::string out, cur;
    for (char c : utf8 + "\x01") {
        if (c == '^' || c == '=' || c == '\\' || c == '\x01') {
            out += encode(cur, "ISO-2022-JP");
            if (c != '\x01') out += c;
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

struct Plant {
    std::string path;      // the verifier's path, e.g. "(0008,1030)" or "(0040,a730)[0]/(0040,a160)"
    std::string category;  // what it is (for the report)
    std::string value;     // UTF-8: must not be in the released output (case, spacing and punctuation aside)
};

struct DatePlant {
    std::string path;
    std::string written;   // as planted in the text ("5th of January 2023")
    std::string yyyymmdd;  // the date it says
};

class Case {
public:
    Case(std::string name, std::string charset) : name_(std::move(name)), charset_(std::move(charset)) {}
    // Puts a UTF-8 value, encoded in the case's character set.
    void put(const DcmTagKey& tag, const std::string& utf8) {
        dataset()->putAndInsertString(tag, to_charset(utf8).c_str());
    }
    void put_raw(const DcmTagKey& tag, const std::string& bytes) { dataset()->putAndInsertString(tag, bytes.c_str()); }
    void plant(const std::string& path, const std::string& category, const std::string& value) {
        plants_.push_back({path, category, value});
    }
    void plant_date(const std::string& path, const std::string& written, const std::string& date) {
        dates_.push_back({path, written, date});
    }
    void must_keep(const std::string& text) { keep_.push_back(text); }
    std::string to_charset(const std::string& utf8) const {
        if (charset_ == "ISO_IR 144") return encode(utf8, "ISO-8859-5");
        if (charset_ == "ISO_IR 126") return encode(utf8, "ISO-8859-7");
        if (charset_ == "ISO_IR 100" || charset_ == "latin1-undeclared") return encode(utf8, "ISO-8859-1");
        if (charset_ == "\\ISO 2022 IR 87") return encode_iso2022_jp(utf8);
        if (charset_ == "\\ISO 2022 IR 149") return encode_iso2022_g1(utf8, "EUC-KR", "\x1b$)C");
        if (charset_ == "GB18030") return encode(utf8, "GB18030");
        return utf8;
    }
    DcmDataset* dataset() { return ff_.getDataset(); }

    json write(const fs::path& dir, int number) {
        DcmDataset* ds_ = dataset();
        if (!charset_.empty() && charset_ != "latin1-undeclared")
            ds_->putAndInsertString(DCM_SpecificCharacterSet, charset_.c_str());
        const std::string base = std::string(kRoot) + "." + std::to_string(number);
        ds_->putAndInsertString(DCM_SOPClassUID, UID_MRImageStorage);
        ds_->putAndInsertString(DCM_SOPInstanceUID, (base + ".3").c_str());
        ds_->putAndInsertString(DCM_StudyInstanceUID, (base + ".1").c_str());
        ds_->putAndInsertString(DCM_SeriesInstanceUID, (base + ".2").c_str());
        ds_->putAndInsertString(DCM_Modality, "MR");
        ds_->putAndInsertString(DCM_Manufacturer, "ACME");
        if (!ds_->tagExists(DCM_StudyDate)) ds_->putAndInsertString(DCM_StudyDate, "20230105");
        if (!ds_->tagExists(DCM_PatientBirthDate)) ds_->putAndInsertString(DCM_PatientBirthDate, "19610218");
        ds_->putAndInsertString(DCM_InstanceNumber, std::to_string(number).c_str());
        ds_->putAndInsertUint16(DCM_Rows, 8);
        ds_->putAndInsertUint16(DCM_Columns, 8);
        ds_->putAndInsertUint16(DCM_BitsAllocated, 8);
        ds_->putAndInsertUint16(DCM_BitsStored, 8);
        ds_->putAndInsertUint16(DCM_HighBit, 7);
        ds_->putAndInsertUint16(DCM_PixelRepresentation, 0);
        ds_->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds_->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        std::vector<Uint8> pixels(64, 40);
        ds_->putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size());
        const std::string file = name_ + ".dcm";
        if (ff_.saveFile((dir / file).string().c_str(), EXS_LittleEndianExplicit).bad())
            throw std::runtime_error("cannot write " + file);
        json entry = {{"file", file}, {"case", name_}, {"instance_number", number}, {"charset", charset_}};
        entry["planted"] = json::array();
        for (const Plant& p : plants_) entry["planted"].push_back({{"path", p.path}, {"category", p.category}, {"value", p.value}});
        entry["dates"] = json::array();
        for (const DatePlant& d : dates_) entry["dates"].push_back({{"path", d.path}, {"written", d.written}, {"date", d.yyyymmdd}});
        entry["keep"] = keep_;
        return entry;
    }

private:
    std::string name_, charset_;
    DcmFileFormat ff_;
    std::vector<Plant> plants_;
    std::vector<DatePlant> dates_;
    std::vector<std::string> keep_;
};

const std::string kStudyDesc = "(0008,1030)", kSeriesDesc = "(0008,103e)", kComments = "(0020,4000)",
                  kStudyComments = "(0032,4000)", kPatientComments = "(0010,4000)", kReason = "(0040,1002)",
                  kAdditionalHistory = "(0010,21b0)";

// Check digits, computed here independently of deid/PatternDetector.cpp.
std::string nhs_number(const std::string& nine) {
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (nine[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    return nine + std::to_string(check);  // callers pick bases whose check is not 10
}
std::string nir(const std::string& thirteen) {
    const unsigned long long n = std::stoull(thirteen);
    char key[4];
    std::snprintf(key, sizeof key, "%02d", static_cast<int>(97 - n % 97));
    return thirteen + key;
}

std::vector<Case> build() {
    std::vector<Case> cases;

    {  // 1. Cyrillic name in capitals in the header, mixed case in the text (ISO_IR 144)
        Case c("a01_cyrillic", "ISO_IR 144");
        c.put(DCM_PatientName, "СОКОЛОВА^ВЕРА^ПАВЛОВНА");
        c.put(DCM_PatientID, "RU-448812");
        c.put(DCM_StudyDescription, "МРТ головы, пациентка Соколова Вера");
        c.put(DCM_ImageComments, "Вера Павловна: контроль");
        c.plant(kStudyDesc, "name_other_case", "Соколова");
        c.plant(kComments, "name_other_case", "Вера Павловна");
        c.must_keep("МРТ головы");
        cases.push_back(std::move(c));
    }
    {  // 2. Greek, accents in text only (ISO_IR 126)
        Case c("a02_greek", "ISO_IR 126");
        c.put(DCM_PatientName, "ΚΑΡΑΓΙΑΝΝΗ^ΕΛΕΝΗ");
        c.put(DCM_PatientID, "GR77120");
        c.put(DCM_StudyDescription, "Αξονική θώρακος - Καραγιάννη Ελένη");
        c.plant(kStudyDesc, "name_other_case", "Καραγιάννη");
        c.plant(kStudyDesc, "name_other_case", "Ελένη");
        cases.push_back(std::move(c));
    }
    {  // 3. Polish diacritics, and the same name typed without them (UTF-8)
        Case c("a03_polish", "ISO_IR 192");
        c.put(DCM_PatientName, "WRÓBLEWSKA^ŻANETA");
        c.put(DCM_PatientID, "PL-55101");
        c.put(DCM_StudyDescription, "RM kolana, pani Żaneta Wróblewska");
        c.put(DCM_ImageComments, "zaneta wroblewska - porownanie");
        c.plant(kStudyDesc, "name_other_case", "Żaneta Wróblewska");
        c.plant(kComments, "name_transliterated", "zaneta wroblewska");
        cases.push_back(std::move(c));
    }
    {  // 4. Korean name without spaces, glued to an honorific (ISO 2022 IR 149)
        Case c("a04_korean", "\\ISO 2022 IR 149");
        c.put(DCM_PatientName, "Choi^Yuna=최^유나");
        c.put(DCM_PatientID, "KR3001");
        c.put(DCM_StudyDescription, "흉부 CT 최유나님 재검");
        c.plant(kStudyDesc, "name_cjk", "최유나");
        c.must_keep("흉부 CT");
        cases.push_back(std::move(c));
    }
    {  // 5. Chinese name inside a sentence, no spaces (GB18030)
        Case c("a05_chinese", "GB18030");
        c.put(DCM_PatientName, "Liang^Qiuyue=梁^秋月");
        c.put(DCM_PatientID, "CN88120");
        c.put(DCM_StudyDescription, "头颅MRI平扫 患者梁秋月复查");
        c.plant(kStudyDesc, "name_cjk", "梁秋月");
        c.must_keep("头颅MRI平扫");
        cases.push_back(std::move(c));
    }
    {  // 6. Latin-1 bytes without a Specific Character Set
        Case c("a06_latin1_undeclared", "latin1-undeclared");
        c.put(DCM_PatientName, "IBÁÑEZ^NURIA");
        c.put(DCM_PatientID, "ES40021");
        c.put(DCM_StudyDescription, "RM lumbar Nuria Ibáñez");
        c.plant(kStudyDesc, "name_latin1", "Ibáñez");
        c.plant(kStudyDesc, "name_latin1", "Nuria");
        cases.push_back(std::move(c));
    }
    {  // 7. Japanese (ISO 2022 IR 87): kanji name in the text, must be cleaned and released
        Case c("a07_japanese_name", "\\ISO 2022 IR 87");
        c.put(DCM_PatientName, "Kobayashi^Haruto=小林^陽翔=こばやし^はると");
        c.put(DCM_PatientID, "JP60502");
        c.put(DCM_StudyDescription, "頭部MRI 小林陽翔 様");
        c.plant(kStudyDesc, "name_cjk", "小林陽翔");
        c.must_keep("頭部MRI");
        cases.push_back(std::move(c));
    }
    {  // 8. Umlauts spelled out, hyphenated double name, ß
        Case c("a08_transliteration", "ISO_IR 100");
        c.put(DCM_PatientName, "KRÜGER-HÖßL^JÖRG");
        c.put(DCM_PatientID, "DE99017");
        c.put(DCM_StudyDescription, "MRT Knie Joerg Krueger-Hoessl");
        c.put(DCM_ImageComments, "Vergleich: KRUGER HOSSL");
        c.plant(kStudyDesc, "name_transliterated", "Joerg");
        c.plant(kStudyDesc, "name_transliterated", "Krueger-Hoessl");
        c.plant(kComments, "name_transliterated", "KRUGER HOSSL");
        cases.push_back(std::move(c));
    }
    {  // 9. Apostrophes and hyphens dropped or added; components reordered; ñ typed as n
        Case c("a09_spelling", "ISO_IR 192");
        c.put(DCM_PatientName, "O'DONNELL-YÁÑEZ^MARY-KATE");
        c.put(DCM_PatientID, "IE3344");
        c.put(DCM_StudyDescription, "CT sinus marykate odonnell yanez");
        c.put(DCM_ImageComments, "Yanez, Mary Kate (O Donnell)");
        c.plant(kStudyDesc, "name_spacing", "marykate");
        c.plant(kStudyDesc, "name_spacing", "odonnell");
        c.plant(kComments, "name_reordered", "Mary Kate");
        c.plant(kComments, "name_spacing", "O Donnell");
        c.plant(kComments, "name_transliterated", "Yanez");
        cases.push_back(std::move(c));
    }
    {  // 10. People the header does not name, phone numbers and e-mail, several languages
        Case c("a10_people_contacts", "ISO_IR 192");
        c.put(DCM_PatientName, "HALVORSEN^TROND");
        c.put(DCM_PatientID, "NO1208");
        c.put(DCM_StudyDescription, "MR abdomen, husband Ravi Chandrasekar present");
        c.put(DCM_ImageComments, "Befund an Hausärztin Dr. med. Ingrid Vogelsang, Tel. 089 4140 7722");
        c.put(DCM_PatientComments, "contact daughter Siobhan on +44 7700 900461 or s.halvorsen@fjordmail.example");
        c.put(DCM_ReasonForTheRequestedProcedure, "adressé par son épouse Mme Odile Marchetti");
        c.put(DCM_AdditionalPatientHistory, "GP: Dr Oyelaran, (617) 555-0143; portal https://records.example.org/p/77812");
        c.plant(kStudyDesc, "relative", "Ravi Chandrasekar");
        c.plant(kComments, "doctor", "Ingrid Vogelsang");
        c.plant(kComments, "phone", "089 4140 7722");
        c.plant(kPatientComments, "relative", "Siobhan");
        c.plant(kPatientComments, "phone", "+44 7700 900461");
        c.plant(kPatientComments, "email", "s.halvorsen@fjordmail.example");
        c.plant(kReason, "relative", "Odile Marchetti");
        c.plant(kAdditionalHistory, "doctor", "Oyelaran");
        c.plant(kAdditionalHistory, "phone", "555-0143");
        c.plant(kAdditionalHistory, "url", "records.example.org");
        c.must_keep("MR abdomen");
        cases.push_back(std::move(c));
    }
    {  // 11. National identifiers written with spaces, postcodes, the patient's id retyped
        Case c("a11_national_ids", "ISO_IR 192");
        c.put(DCM_PatientName, "ABERNATHY^COLM");
        c.put(DCM_PatientID, "H4471902");
        const std::string nhs = nhs_number("401023213");  // 4010232137
        const std::string nhs_spaced = nhs.substr(0, 3) + " " + nhs.substr(3, 3) + " " + nhs.substr(6);
        c.put(DCM_StudyDescription, "CT head NHS no " + nhs_spaced);
        c.put(DCM_ImageComments, "SSN 078-05-1120, BSN 1112.22.333, Steuer-ID 65 929 970 489");
        const std::string nir_value = nir("2840575116042");
        c.put(DCM_PatientComments, "NIR " + nir_value.substr(0, 1) + " " + nir_value.substr(1, 2) + " " + nir_value.substr(3, 2) + " " +
                                       nir_value.substr(5, 2) + " " + nir_value.substr(7, 3) + " " + nir_value.substr(10, 3) + " " +
                                       nir_value.substr(13));
        c.put(DCM_ReasonForTheRequestedProcedure, "ref H447 1902 / H-4471902, lives EH12 9QT, prior 3512 JK Utrecht");
        c.plant(kStudyDesc, "national_id", nhs_spaced);
        c.plant(kComments, "national_id", "078-05-1120");
        c.plant(kComments, "national_id", "1112.22.333");
        c.plant(kComments, "national_id", "65 929 970 489");
        c.plant(kPatientComments, "national_id", nir_value.substr(5, 2) + " " + nir_value.substr(7, 3) + " " + nir_value.substr(10, 3));
        c.plant(kReason, "patient_id_retyped", "H447 1902");
        c.plant(kReason, "patient_id_retyped", "H-4471902");
        c.plant(kReason, "postcode", "EH12 9QT");
        c.plant(kReason, "postcode", "3512 JK");
        c.must_keep("CT head");
        cases.push_back(std::move(c));
    }
    {  // 12. The patient's address and the institution written differently
        Case c("a12_address_institution", "ISO_IR 192");
        c.put(DCM_PatientName, "FITZGERALD^NOREEN");
        c.put(DCM_PatientID, "IE77310");
        c.put(DCM_PatientAddress, "27 Kilbarrack Road, Dublin 5");
        c.put(DCM_InstitutionName, "St. Columcille's Hospital");
        c.put(DCM_StudyDescription, "MRI spine, from Saint Columcille Hosp, home 27 Kilbarrack Rd");
        c.put(DCM_ImageComments, "transfer: Columcille's, then 9 Rue des Vignerons, Lyon");
        c.put(DCM_PatientComments, "Whitmore Lane 14; earlier Lindenstraße 3b");
        c.plant(kStudyDesc, "institution", "Columcille");
        c.plant(kStudyDesc, "address", "Kilbarrack");
        c.plant(kComments, "institution", "Columcille");
        c.plant(kComments, "address", "Rue des Vignerons");
        c.plant(kPatientComments, "address", "Lindenstraße 3b");
        c.must_keep("MRI spine");
        cases.push_back(std::move(c));
    }
    {  // 13. Dates in free text in many forms and languages (Study Date 20230105, birth 19610218)
        Case c("a13_free_text_dates", "ISO_IR 192");
        c.put(DCM_PatientName, "VASQUEZ^IMELDA");
        c.put(DCM_PatientID, "MX5151");
        c.put(DCM_StudyDescription, "MR brain 5th of January 2023");
        c.put(DCM_ImageComments, "Aufnahme vom 5. Januar 2023, Kontrolle 12. März");
        c.put(DCM_PatientComments, "née le 18 février 1961; vu le 5 janv.");
        c.put(DCM_ReasonForTheRequestedProcedure, "seen Jan 5th, prior 14 Sept 2022, DOB 18.02.");
        c.put(DCM_AdditionalPatientHistory, "检查日期 2023年1月5日; 내원 1월 5일; nacida el 18 de febrero de 1961");
        c.plant_date(kStudyDesc, "5th of January 2023", "20230105");
        c.plant_date(kComments, "5. Januar 2023", "20230105");
        c.plant_date(kComments, "12. März", "00000312");
        c.plant_date(kPatientComments, "18 février 1961", "19610218");
        c.plant_date(kPatientComments, "5 janv", "00000105");
        c.plant_date(kReason, "Jan 5th", "00000105");
        c.plant_date(kReason, "14 Sept 2022", "20220914");
        c.plant_date(kReason, "18.02.", "00000218");
        c.plant_date(kAdditionalHistory, "2023年1月5日", "20230105");
        c.plant_date(kAdditionalHistory, "1월 5일", "00000105");
        c.plant_date(kAdditionalHistory, "18 de febrero de 1961", "19610218");
        c.must_keep("MR brain");
        cases.push_back(std::move(c));
    }
    {  // 14. Malformed DA/DT/TM: ISO 8601 with dashes and a T
        Case c("a14_malformed_dates", "");
        c.put(DCM_PatientName, "OKONKWO^ADAEZE");
        c.put(DCM_PatientID, "NG2290");
        c.dataset()->putAndInsertString(DCM_StudyDate, "2023-01-05");
        c.dataset()->putAndInsertString(DCM_SeriesDate, "20230105");
        c.dataset()->putAndInsertString(DCM_AcquisitionDateTime, "2023-01-05T10:20:30");
        c.plant_date("(0008,0020)", "2023-01-05", "20230105");
        c.plant_date("(0008,002a)", "2023-01-05", "20230105");
        cases.push_back(std::move(c));
    }
    {  // 15. Classes that were trusted: CS, allow-listed text, safe private text, code meanings,
        //     class and coding scheme UIDs, waveform annotation text, an age over 89
        Case c("a15_trusted_classes", "ISO_IR 192");
        c.put(DCM_PatientName, "THORVALDSDOTTIR^ASA");
        c.put(DCM_PatientID, "IS90417");
        c.put(DCM_PatientAge, "094Y");
        DcmDataset* ds = c.dataset();
        ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\IS90417");
        ds->putAndInsertString(DCM_BodyPartExamined, "THORVALDSDOTTIR");
        c.put(DCM_ConvolutionKernel, "B30f Thorvaldsdottir");
        c.put(DCM_WindowCenterWidthExplanation, "set by Dr. Kwabena Asante");
        // safe private text (Philips Imaging DD 001, (2001,xx25) MR Series Echo Time Display, SH)
        ds->putAndInsertString(DcmTag(0x2001, 0x0010, EVR_LO), "Philips Imaging DD 001");
        ds->putAndInsertString(DcmTag(0x2001, 0x1025, EVR_SH), "Asa T 88");
        // SR-style code meaning in a sequence
        DcmItem* code = nullptr;
        ds->findOrCreateSequenceItem(DCM_AnatomicRegionSequence, code, -2);
        code->putAndInsertString(DCM_CodeValue, "T-D1100");
        code->putAndInsertString(DCM_CodingSchemeDesignator, "SRT");
        code->putAndInsertString(DCM_CodeMeaning, "Head of Thorvaldsdottir");
        // coding scheme UID that embeds the patient's id and the study date
        DcmItem* scheme = nullptr;
        ds->findOrCreateSequenceItem(DCM_CodingSchemeIdentificationSequence, scheme, -2);
        scheme->putAndInsertString(DCM_CodingSchemeDesignator, "99LOCAL");
        scheme->putAndInsertString(DCM_CodingSchemeUID, "1.2.826.0.1.3680043.8.498.90417.20230105");
        // waveform annotation text
        DcmItem* annotation = nullptr;
        ds->findOrCreateSequenceItem(DCM_WaveformAnnotationSequence, annotation, -2);
        annotation->putAndInsertString(DCM_UnformattedTextValue, "Asa Thorvaldsdottir moved, call 0161 496 0734");
        c.plant("(0008,0008)", "patient_id_in_cs", "IS90417");
        c.plant("(0018,0015)", "name_in_cs", "THORVALDSDOTTIR");
        c.plant("(0018,1210)", "name_in_allow_listed", "Thorvaldsdottir");
        c.plant("(0028,1055)", "doctor_in_allow_listed", "Kwabena Asante");
        c.plant("(0008,2218)[0]/(0008,0104)", "name_in_code_meaning", "Thorvaldsdottir");
        c.plant("(0008,0110)[0]/(0008,010c)", "uid_with_id", "1.2.826.0.1.3680043.8.498.90417.20230105");
        c.plant("(0040,b020)[0]/(0070,0006)", "name_in_waveform_annotation", "Thorvaldsdottir");
        c.plant("(0040,b020)[0]/(0070,0006)", "phone", "0161 496 0734");
        c.plant("(0010,1010)", "age_over_89", "094Y");
        cases.push_back(std::move(c));
    }
    {  // 16. A safe-listed private binary element above 1 MiB with the name near its end
        Case c("a16_private_binary", "");
        c.put(DCM_PatientName, "BRANDVOLD^SIGURD");
        c.put(DCM_PatientID, "NO55331");
        DcmDataset* ds = c.dataset();
        ds->putAndInsertString(DcmTag(0x2001, 0x0010, EVR_LO), "Philips Imaging DD 097");
        std::string blob(1536 * 1024, '\0');
        const std::string hidden = "patient BRANDVOLD SIGURD NO55331";
        blob.replace(blob.size() - 4096, hidden.size(), hidden);
        ds->putAndInsertUint8Array(DcmTag(0x2001, 0x102f, EVR_OB), reinterpret_cast<const Uint8*>(blob.data()), blob.size());
        c.plant("(2001,102f)", "name_in_private_binary", "BRANDVOLD");
        cases.push_back(std::move(c));
    }
    {  // 20. No Specific Character Set, one value that mixes UTF-8 and Latin-1 bytes: read as
        //     Latin-1 only, the UTF-8 name would be "JÃ¼rgen" (read both ways for matching)
        Case c("a20_mixed_undeclared", "latin1-undeclared");
        c.put(DCM_PatientName, "SOLBERG^JÜRGEN");
        c.put(DCM_PatientID, "NO20417");
        c.put_raw(DCM_ImageComments, "Befund J\xC3\xBCrgen, Gr\xF6\xDF" "e 5 cm");
        c.plant(kComments, "name_mixed_bytes", "Jürgen");
        cases.push_back(std::move(c));
    }
    {  // 17-19. Japanese, Korean and Chinese instances whose text identifies nobody: released as written
        Case j("a17_japanese_plain", "\\ISO 2022 IR 87");
        j.put(DCM_PatientName, "Sato^Yui=佐藤^結衣=さとう^ゆい");
        j.put(DCM_PatientID, "JP71110");
        j.put(DCM_StudyDescription, "胸部CT 造影なし");
        j.put(DCM_SeriesDescription, "肺野条件");
        j.must_keep("胸部CT");
        j.must_keep("肺野条件");
        cases.push_back(std::move(j));
        Case k("a18_korean_plain", "\\ISO 2022 IR 149");
        k.put(DCM_PatientName, "Han^Sora=한^소라");
        k.put(DCM_PatientID, "KR44120");
        k.put(DCM_StudyDescription, "복부 초음파");
        k.must_keep("복부 초음파");
        cases.push_back(std::move(k));
        Case z("a19_chinese_plain", "GB18030");
        z.put(DCM_PatientName, "Gao^Ming=高^明");
        z.put(DCM_PatientID, "CN30221");
        z.put(DCM_StudyDescription, "腹部CT增强");
        z.must_keep("腹部CT增强");
        cases.push_back(std::move(z));
    }
    return cases;
}

int run(const fs::path& out, const fs::path& key_path) {
    fs::create_directories(out);
    std::vector<Case> cases = build();
    json key = {{"instances", json::array()}, {"study_date", "20230105"}, {"birth_date", "19610218"}};
    int number = 1;
    for (Case& c : cases) key["instances"].push_back(c.write(out, number++));
    std::ofstream(key_path) << key.dump(2) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string out, key;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--out") out = argv[i + 1];
        else if (a == "--key") key = argv[i + 1];
    }
    if (out.empty() || key.empty()) {
        std::cerr << "usage: deid-adversarial --out DIR --key FILE.json\n";
        return 2;
    }
    try {
        return run(out, key);
    } catch (const std::exception& e) {
        std::cerr << "deid-adversarial: " << e.what() << "\n";
        return 1;
    }
}
