// The verifier (see deid/Verifier.h and docs/verification.md for what it checks and why the
// thresholds are what they are). Nothing here logs or returns a value: only tags and categories.
#include "deid/Verifier.h"

#include "deid/DcmValues.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <boost/date_time/gregorian/gregorian.hpp>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcspchrs.h>

#include "deid/CharsetDecoder.h"
#include "deid/DateText.h"
#include "deid/PatternDetector.h"
#include "deid/PhraseVariants.h"
#include "deid/TextNormaliser.h"
#include "deid/Vocabulary.h"

namespace deid {
namespace {

// ---- thresholds (documented in docs/verification.md) ----------------------------------------
constexpr std::size_t kMinComponent = 2;       // name components shorter than this are not collected
constexpr std::size_t kMinLooseToken = 4;      // shorter needles need a real word boundary on both sides
constexpr std::size_t kMinIdSearch = 3;        // ids shorter than this are only matched as a whole value
constexpr std::size_t kMinWholeValue = 2;      // 1-character values are never matched
constexpr std::size_t kMinSubstring = 5;       // full names / institutions: plain substring from here on
constexpr std::size_t kMinBinaryNeedle = 5;    // inside OB/OW/UN bytes only needles at least this long

// Tokens that identify nobody: titles, particles and the usual placeholders.
const std::unordered_set<std::string>& generic_tokens() {
    static const std::unordered_set<std::string> s = {
        "MR", "MRS", "MS", "MISS", "DR", "PROF", "JR", "SR", "II", "III", "IV", "MD", "PHD", "RN", "RT",
        "DE", "LA", "LE", "DA", "DI", "DU", "DEL", "VAN", "VON", "DER", "DEN", "AND", "THE",
        "ANONYMOUS", "ANONYMIZED", "ANONYMISED", "ANON", "UNKNOWN", "NONE", "NA", "N/A", "NULL",
        "REMOVED", "DEIDENTIFIED", "DE-IDENTIFIED", "TEST", "PHANTOM", "PATIENT", "NAME", "NO", "YES",
        // template placeholders seen in sample files ("Last Name^First Name", "Enter text", "Here")
        "LAST", "FIRST", "MIDDLE", "ENTER", "TEXT", "HERE"};
    return s;
}

bool is_ascii_alpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
// Character classes for token boundaries; bytes of multi-byte UTF-8 count as letters.
enum class CharClass { Digit, Letter, Other };
CharClass char_class(unsigned char c) {
    if (is_digit(c)) return CharClass::Digit;
    if (is_ascii_alpha(c) || c >= 0x80) return CharClass::Letter;
    return CharClass::Other;
}

// Upper-cases ASCII and the Latin-1 supplement in UTF-8 (U+00E0..U+00FE except U+00F7);
// other scripts are compared as they are.
std::string upper(const std::string& s) {
    std::string out = s;
    for (std::size_t i = 0; i < out.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(out[i]);
        if (c >= 'a' && c <= 'z') out[i] = static_cast<char>(c - 32);
        else if (c == 0xC3 && i + 1 < out.size()) {
            unsigned char d = static_cast<unsigned char>(out[i + 1]);
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7) out[i + 1] = static_cast<char>(d - 0x20);
            ++i;
        }
    }
    return out;
}

// Upper case, person-name delimiters and control characters to spaces, whitespace collapsed, trimmed.
std::string normalise(const std::string& s, bool person_name) {
    std::string u = upper(s);
    // Collapsed in place: a blank is written only where at least one was dropped.
    std::size_t n = 0;
    bool space = false;
    for (std::size_t i = 0; i < u.size(); ++i) {
        const char ch = u[i];
        unsigned char c = static_cast<unsigned char>(ch);
        bool blank = c <= ' ' || (person_name && (c == '^' || c == '='));
        if (blank) {
            space = true;
            continue;
        }
        if (space && n > 0) u[n++] = ' ';
        space = false;
        u[n++] = ch;
    }
    u.resize(n);
    return u;
}

std::vector<std::string> split(const std::string& s, char delim) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t p = s.find(delim); p != std::string::npos; p = s.find(delim, start)) {
        out.emplace_back(s, start, p - start);
        start = p + 1;
    }
    out.emplace_back(s, start, std::string::npos);
    return out;
}

std::string digits_only(const std::string& s) {
    std::string d;
    for (char c : s)
        if (is_digit(static_cast<unsigned char>(c))) d += c;
    return d;
}

bool plausible_date(const std::string& d) {
    if (d.size() != 8) return false;
    for (char c : d)
        if (!is_digit(static_cast<unsigned char>(c))) return false;
    int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(4, 2)), day = std::stoi(d.substr(6, 2));
    return y >= 1800 && y <= 2200 && m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

bool is_uid_shaped(const std::string& s) {
    if (s.size() < 8 || s.find('.') == std::string::npos) return false;
    for (char c : s)
        if (!is_digit(static_cast<unsigned char>(c)) && c != '.') return false;
    return true;
}

// "(gggg,eeee)" in lower-case hex (snprintf took 2,000 instructions a tag, and every date and
// every sequence item needs one).
std::string tag_text(const DcmTagKey& t) {
    static const char hex[] = "0123456789abcdef";
    std::string s = "(0000,0000)";
    for (int k = 0; k < 4; ++k) {
        s[4 - k] = hex[(t.getGroup() >> (4 * k)) & 15];
        s[9 - k] = hex[(t.getElement() >> (4 * k)) & 15];
    }
    return s;
}

bool is_text_vr(DcmEVR vr) {
    switch (vr) {
        case EVR_AE: case EVR_AS: case EVR_CS: case EVR_DA: case EVR_DT: case EVR_LO: case EVR_LT: case EVR_PN:
        case EVR_SH: case EVR_ST: case EVR_UC: case EVR_UI: case EVR_UR: case EVR_UT:
            return true;
        default:
            return false;
    }
}
bool is_charset_vr(DcmEVR vr) {
    switch (vr) {
        case EVR_LO: case EVR_LT: case EVR_PN: case EVR_SH: case EVR_ST: case EVR_UC: case EVR_UT:
            return true;
        default:
            return false;
    }
}
bool is_free_text_vr(DcmEVR vr) {
    switch (vr) {
        case EVR_LO: case EVR_LT: case EVR_SH: case EVR_ST: case EVR_UC: case EVR_UT:
            return true;
        default:
            return false;
    }
}
bool is_binary_vr(DcmEVR vr) { return vr == EVR_OB || vr == EVR_OW || vr == EVR_UN; }

bool is_pixel_tag(const DcmTagKey& t) {
    return t == DCM_PixelData || t == DCM_FloatPixelData || t == DCM_DoubleFloatPixelData ||
           (t.getGroup() >= 0x6000 && t.getGroup() <= 0x60FF && t.getElement() == 0x3000) ||  // overlay data
           t == DCM_WaveformData || t == DCM_EncapsulatedDocument;
}

// Decodes string values with the Specific Character Set in force (converters cached per value).
class Decoder {
public:
    std::string decode(const std::string& raw, const std::string& charset, DcmEVR vr) {
        // No character set declared: valid UTF-8 is read as UTF-8, anything else as ISO 8859-1.
        if (charset.empty() || charset == "ISO_IR 6") return decode_unlabelled(raw);
        if (charset == "ISO_IR 192") return raw;
        bool ascii = std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != 0x1B; });
        if (ascii) return raw;
        auto it = converters_.find(charset);
        if (it == converters_.end()) {
            auto conv = std::make_unique<DcmSpecificCharacterSet>();
            if (conv->selectCharacterSet(charset.c_str(), "ISO_IR 192").bad()) conv.reset();
            it = converters_.emplace(charset, std::move(conv)).first;
        }
        OFString out;
        const char* delimiters = vr == EVR_PN ? "\\^=" : (vr == EVR_LT || vr == EVR_ST || vr == EVR_UT) ? "" : "\\";
        if (!it->second || it->second->convertString(OFString(raw.data(), raw.size()), out, delimiters).bad()) {
            // What DCMTK's converter cannot read (ISO 2022 IR 87 and IR 159) through ICU; else the
            // bytes as they are.
            if (charset.find("2022") != std::string::npos)
                if (auto decoded = decode_iso2022(raw, charset, vr == EVR_PN)) return *decoded;
            return raw;
        }
        return std::string(out.c_str(), out.length());
    }

private:
    std::map<std::string, std::unique_ptr<DcmSpecificCharacterSet>> converters_;
};

struct Visit {
    DcmElement* element;
    DcmTagKey tag;
    DcmEVR vr;
    const std::string* prefix;  // the enclosing items' path; path() adds the tag (only for a leak)
    std::string path() const { return *prefix + tag_text(tag); }
    std::string text;    // decoded value of a string VR (raw bytes for OB/OW/UN)
    bool binary = false;
    // No character set declared and bytes >= 0x80: the other readings of the same bytes
    // (deid/TextNormaliser.h unlabelled_readings), matched as well.
    std::vector<std::string> other_readings;
};

std::string raw_string(DcmElement* e) {
    char* p = nullptr;
    Uint32 len = 0;
    if (e->getString(p, len).bad() || !p) return {};
    return std::string(p, len);
}

std::string raw_bytes(DcmElement* e, DcmEVR vr) {
    // Scanned whole, whatever the size: a safe-listed private blob is no place to hide a name.
    if (e->getLength() == 0) return {};
    if (vr == EVR_OW) {
        Uint16* p = nullptr;
        if (e->getUint16Array(p).bad() || !p) return {};
        return std::string(reinterpret_cast<const char*>(p), e->getLength());
    }
    Uint8* p = nullptr;
    if (e->getUint8Array(p).bad() || !p) return {};
    return std::string(reinterpret_cast<const char*>(p), e->getLength());
}

void walk(DcmItem& item, std::string charset, const std::string& prefix, Decoder& decoder,
          const std::function<void(const Visit&)>& fn) {
    OFString cs;
    if (item.findAndGetOFStringArray(DCM_SpecificCharacterSet, cs, OFFalse).good()) charset = trim(cs.c_str());
    // nextInContainer, not getElement(i): DcmList::seek_to walks from the first element every time.
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        DcmElement* e = static_cast<DcmElement*>(o);
        if (!e) continue;
        const DcmTagKey tag = e->getTag().getXTag();
        const DcmEVR vr = e->ident();
        if (vr == EVR_SQ) {
            const std::string path = prefix + tag_text(tag);
            auto* sq = static_cast<DcmSequenceOfItems*>(e);
            for (unsigned long k = 0; k < sq->card(); ++k) {
                DcmItem* child = sq->getItem(k);
                if (child) walk(*child, charset, path + "[" + std::to_string(k) + "]/", decoder, fn);
            }
            continue;
        }
        if (is_pixel_tag(tag)) continue;
        if (!is_text_vr(vr) && !is_binary_vr(vr)) continue;  // numbers, times, ages, attribute tags
        Visit v{e, tag, vr, &prefix, {}, false, {}};
        if (is_text_vr(vr)) {
            std::string raw = raw_string(e);
            const bool unlabelled = charset.empty() || charset == "ISO_IR 6";
            if (!is_charset_vr(vr) || (unlabelled && is_ascii(raw))) {
                v.text = std::move(raw);  // read as it is (what decode() gives ASCII without a character set)
            } else {
                v.text = decoder.decode(raw, charset, vr);
                if (unlabelled && !is_ascii(raw)) {
                    std::vector<std::string> all = unlabelled_readings(raw);
                    v.other_readings.assign(all.begin() + 1, all.end());
                }
            }
        } else if (is_binary_vr(vr)) {
            v.text = raw_bytes(e, vr);
            v.binary = true;
        } else {
            continue;  // numbers, times, ages, attribute tags: nothing identifying is matched there
        }
        if (!v.text.empty()) fn(v);
    }
}

void walk_file(DcmFileFormat& file, Decoder& decoder, const std::function<void(const Visit&)>& fn) {
    if (DcmMetaInfo* meta = file.getMetaInfo()) walk(*meta, "", "", decoder, fn);
    if (DcmDataset* ds = file.getDataset()) walk(*ds, "", "", decoder, fn);
}

// ---- collection -------------------------------------------------------------------------------

bool tag_in(const DcmTagKey& t, std::initializer_list<DcmTagKey> list) {
    return std::find(list.begin(), list.end(), t) != list.end();
}

// UIDs that name a class, a scheme or an implementation, not an instance.
bool is_class_uid_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_MediaStorageSOPClassUID, DCM_TransferSyntaxUID, DCM_ImplementationClassUID,
                      DCM_SOPClassUID, DCM_ReferencedSOPClassUID, DCM_ReferencedSOPClassUIDInFile,
                      DCM_ReferencedTransferSyntaxUIDInFile, DCM_CodingSchemeUID, DCM_ContextGroupExtensionCreatorUID,
                      DCM_RelatedGeneralSOPClassUID, DCM_OriginalSpecializedSOPClassUID, DCM_ContextUID,
                      DCM_RETIRED_TemplateExtensionCreatorUID, DCM_RETIRED_TemplateExtensionOrganizationUID, DCM_MappingResourceUID,
                      DCM_MACCalculationTransferSyntaxUID, DCM_SOPClassesInStudy, DCM_ReferencedRelatedGeneralSOPClassUIDInFile,
                      DCM_PrivateInformationCreatorUID, DCM_ManufacturerDeviceClassUID, DCM_CreatorVersionUID});
}

// A class, scheme or creator UID that is neither a DICOM one (1.2.840.10008.) nor an HL7-registered
// coding system (2.16.840.1.113883.): it may embed an id or a date, so the engine remaps it.
bool is_unregistered_class_uid(const std::string& uid) {
    return !uid.empty() && uid.rfind("1.2.840.10008.", 0) != 0 && uid.rfind("2.16.840.1.113883.", 0) != 0;
}
// Class UIDs that describe the software that wrote the file or its encoding: never collected.
bool is_writer_uid_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_ImplementationClassUID, DCM_TransferSyntaxUID, DCM_ReferencedTransferSyntaxUIDInFile,
                      DCM_MACCalculationTransferSyntaxUID});
}

// Attributes that describe the equipment's make (kept by the standard for research): a vendor name
// that is also written as the institution (e.g. Institution Name "TOSHIBA") is not a leak there.
bool is_equipment_make_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_Manufacturer, DCM_ManufacturerModelName, DCM_SoftwareVersions,
                      DCM_SecondaryCaptureDeviceManufacturer, DCM_SecondaryCaptureDeviceManufacturerModelName,
                      DCM_SecondaryCaptureDeviceSoftwareVersions, DCM_ImplementationVersionName});
}

bool is_device_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_DeviceSerialNumber, DCM_DeviceUID, DCM_PlateID, DCM_GeneratorID, DCM_CassetteID,
                      DCM_GantryID, DCM_DetectorID, DCM_XRayDetectorID, DCM_XRaySourceID, DCM_SourceSerialNumber,
                      DCM_UniqueDeviceIdentifier, DCM_ManufacturerDeviceIdentifier, DCM_LensSerialNumber, DcmTagKey(0x0020, 0x3401) /* Modifying Device ID */,
                      DCM_DeviceLabel, DCM_TreatmentMachineName});
}
bool is_station_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_StationName, DCM_StationAETitle, DCM_PerformedStationName, DCM_ScheduledStationName,
                      DCM_PerformedStationAETitle, DCM_ScheduledStationAETitle});
}
// Dates that retain_device_identity keeps as they are (calibration, manufacture, installation).
bool is_device_date_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_DateOfLastCalibration, DCM_DateTimeOfLastCalibration, DCM_CalibrationDateTime,
                      DCM_DateOfLastDetectorCalibration,
                      DCM_CalibrationDate, DCM_BeamHoldTransitionDateTime,
                      DcmTagKey(0x0018, 0x1204) /* Date of Manufacture */, DcmTagKey(0x0018, 0x1205) /* Date of Installation */});
}
bool is_engine_written_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_PatientID, DCM_DeidentificationMethod, DCM_ImplementationVersionName});
}
bool is_patient_name_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_PatientName, DCM_OtherPatientNames, DCM_PatientBirthName, DCM_PatientMotherBirthName,
                      DCM_ResponsiblePerson});
}
bool is_institution_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_InstitutionName, DCM_InstitutionAddress, DCM_InstitutionalDepartmentName});
}
bool is_other_id_tag(const DcmTagKey& t) {
    return tag_in(t, {DCM_PlacerOrderNumberImagingServiceRequest, DCM_FillerOrderNumberImagingServiceRequest,
                      DCM_RequestedProcedureID, DCM_ScheduledProcedureStepID, DCM_PerformedProcedureStepID,
                      DCM_AdmissionID, DCM_RETIRED_MedicalRecordLocator,
                      DCM_MilitaryRank, DCM_PatientTelephoneNumbers});
}

class Collector {
public:
    void add(const std::string& text, const std::string& category) {
        if (text.size() < kMinWholeValue) return;
        if (generic_tokens().count(text)) return;
        if (seen_.insert(category + '\n' + text).second) ids_.values.push_back({text, category});
    }
    void add_name(const std::string& raw, const std::string& category) {
        for (const std::string& one : split(raw, '\\')) {
            const std::string full = normalise(one, true);
            if (full.empty()) continue;
            bool any_specific = false;
            for (const std::string& comp : split(full, ' ')) {
                if (comp.size() < kMinComponent || generic_tokens().count(comp)) continue;
                // "O'BRIEN" / "SMITH-JONES": also the parts
                add(comp, category);
                any_specific = true;
                std::string part;
                for (char c : comp + " ") {
                    if (char_class(static_cast<unsigned char>(c)) == CharClass::Other) {
                        if (part.size() >= 3 && part != comp && !generic_tokens().count(part)) add(part, category);
                        part.clear();
                    } else {
                        part += c;
                    }
                }
            }
            if (any_specific && full.find(' ') != std::string::npos) add(full, category);
        }
    }
    void add_values(const std::string& raw, const std::string& category) {
        for (const std::string& one : split(raw, '\\')) add(normalise(one, false), category);
    }
    // The dates of one DA or DT element at `path`, each value's also by its position.
    void add_dates(const std::string& raw, DcmEVR vr, const std::string& category, const std::string& path) {
        std::vector<std::string>& at = ids_.dates_at[path];
        at.clear();
        for (const std::string& one : split(raw, '\\')) {
            std::string d = trim(one);
            if (vr == EVR_DT) d = d.substr(0, std::min<std::size_t>(8, d.size()));
            d = digits_only(d);
            if (!plausible_date(d)) d.clear();
            if (!d.empty()) add(d, category);
            at.push_back(std::move(d));
        }
    }
    Identifiers ids_;

private:
    std::unordered_set<std::string> seen_;
};

// ---- matching --------------------------------------------------------------------------------

enum class Kind { Name, FullName, Id, Institution, PhraseWord, Uid, Date };

struct Needle {
    std::string text;  // normalised (upper case, blanks collapsed)
    std::string category;
    Kind kind;
    // folded (deid/TextNormaliser.h): variants, or a date's written forms; shared with the thread's
    // needle memo (NeedleMemo)
    std::shared_ptr<const std::vector<std::string>> forms;
};

Kind kind_of(const Identifiers::Value& v) {
    if (v.category == "date" || v.category == "birth_date") return Kind::Date;
    if (v.category == "uid" || is_uid_shaped(v.text)) return Kind::Uid;
    if (v.category == "patient_name" || v.category == "staff_name")
        return v.text.find(' ') == std::string::npos ? Kind::Name : Kind::FullName;
    if (v.category == "institution" || v.category == "address") return Kind::Institution;
    return Kind::Id;
}

// Finds `needle` in `hay` at a token boundary. Strict: no letter or digit on either side.
// Loose: the neighbour must not be of the same class (letter/digit) as the needle's edge, so
// "MRN12345" contains the id 12345 but "123456" does not.
bool find_token(const std::string& hay, const std::string& needle, bool strict) {
    if (needle.empty() || hay.size() < needle.size()) return false;
    const CharClass first = char_class(static_cast<unsigned char>(needle.front()));
    const CharClass last = char_class(static_cast<unsigned char>(needle.back()));
    for (std::size_t pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1)) {
        bool ok = true;
        if (pos > 0) {
            CharClass b = char_class(static_cast<unsigned char>(hay[pos - 1]));
            ok = strict ? b == CharClass::Other : (b == CharClass::Other || b != first);
        }
        if (ok && pos + needle.size() < hay.size()) {
            CharClass a = char_class(static_cast<unsigned char>(hay[pos + needle.size()]));
            ok = strict ? a == CharClass::Other : (a == CharClass::Other || a != last);
        }
        if (ok) return true;
    }
    return false;
}

// A UID inside text: not preceded or followed by a digit or a dot.
bool find_uid(const std::string& hay, const std::string& uid) {
    for (std::size_t pos = hay.find(uid); pos != std::string::npos; pos = hay.find(uid, pos + 1)) {
        auto part = [](char c) { return is_digit(static_cast<unsigned char>(c)) || c == '.'; };
        bool before = pos > 0 && part(hay[pos - 1]);
        bool after = pos + uid.size() < hay.size() && part(hay[pos + uid.size()]);
        if (!before && !after) return true;
    }
    return false;
}

// A date inside text in one of its written forms, not inside a longer run of digits.
bool find_date(const std::string& hay, const std::vector<std::string>& forms) {
    for (const std::string& form : forms)
        for (std::size_t pos = hay.find(form); pos != std::string::npos; pos = hay.find(form, pos + 1)) {
            bool before = pos > 0 && is_digit(static_cast<unsigned char>(hay[pos - 1]));
            bool after = pos + form.size() < hay.size() && is_digit(static_cast<unsigned char>(hay[pos + form.size()]));
            if (!before && !after) return true;
        }
    return false;
}

// A text value (already decoded) against a needle: `folded` is the whole value folded, `values`
// each of its values folded.
// `codes`: for a CS value, each of its values that is not a defined term, folded.
bool match_text(const Needle& n, const Visit& v, const FoldedText& folded, const std::vector<std::string>& values,
                const std::vector<FoldedText>& codes) {
    if (v.vr == EVR_UI || v.vr == EVR_DA || v.vr == EVR_DT) return false;
    if (n.kind == Kind::Date) {
        for (const std::string& form : *n.forms)
            if (folded.contains(form, false)) return true;
        return false;
    }
    if (n.kind != Kind::Name && n.kind != Kind::FullName && is_equipment_make_tag(v.tag)) return false;
    // Coded strings: a value that is a defined term of its attribute (deid/Vocabulary.h: TEXT,
    // PNAME, HEAD, ...) is not searched; in any other the patient's names and any id, 3 characters
    // or more, between separators, count. (Staff names do not: a placeholder observer
    // "Valuetype^Enter text" in a third-party template equals its code VALUETYPE.)
    if (v.vr == EVR_CS) {
        const bool person_or_id = n.category == "patient_name" || n.kind == Kind::Id;
        if (!person_or_id) return false;
        for (const FoldedText& code : codes)
            for (const std::string& form : *n.forms)
                if (form.size() >= 3 && code.contains(form, true)) return true;
        return false;
    }
    // Application entity titles: only whole names of 5 or more characters, ids of 5 or more,
    // between separators, and only the patient's own.
    const bool coded = v.vr == EVR_AE;
    if (coded && n.category != "patient_name" && n.category != "patient_id" && n.category != "other_patient_id" &&
        n.category != "accession_number")
        return false;
    for (const std::string& form : *n.forms) {
        if (form.size() < kMinWholeValue) continue;
        if (coded) {
            if (form.size() >= 5 && folded.contains(form, true)) return true;
            continue;
        }
        if (std::find(values.begin(), values.end(), form) != values.end()) return true;
        switch (n.kind) {
            case Kind::Name:
            case Kind::PhraseWord:
                if (folded.contains(form, form.size() < kMinLooseToken)) return true;
                break;
            case Kind::FullName:
            case Kind::Institution:
                if (form.size() >= kMinSubstring ? folded.contains_anywhere(form) : folded.contains(form, true)) return true;
                break;
            case Kind::Id:
                if (form.size() >= kMinIdSearch && folded.contains(form, form.size() < kMinLooseToken + 1)) return true;
                break;
            default:
                break;
        }
    }
    return false;
}

// YYYYMMDD moved by `days`, by Boost's Gregorian calendar (not the engine's own arithmetic, so a
// wrong shift in the engine is not taken for the right one); "" for no date or one out of range.
std::string shifted_date(const std::string& yyyymmdd, int days) {
    if (yyyymmdd.size() != 8 || days == 0) return {};
    try {
        auto number = [&](std::size_t at, std::size_t n) { return std::stoi(yyyymmdd.substr(at, n)); };
        const boost::gregorian::date::ymd_type moved =
            (boost::gregorian::date(number(0, 4), number(4, 2), number(6, 2)) + boost::gregorian::days(days)).year_month_day();
        std::string text(8, '0');
        auto put = [&text](std::size_t at, int value, int width) {
            for (int k = width - 1; k >= 0; --k, value /= 10) text[at + k] = static_cast<char>('0' + value % 10);
        };
        put(0, moved.year, 4);
        put(4, moved.month, 2);
        put(6, moved.day, 2);
        return text;
    } catch (const std::exception&) {
        return {};  // not a calendar date, or outside 1400-9999
    }
}

// Whether a DA or DT value of the output starts with its own element's original date moved by
// the patient's date shift (verify): that date is the shift, whatever original date it equals.
// Asked only of a value an original date matched; `positions[i]` is values[i]'s position in the
// element (empty values are not matched).
struct OwnShift {
    const Identifiers* original = nullptr;
    int days = 0;
    const Visit* visit = nullptr;
    const std::vector<std::size_t>* positions = nullptr;
    bool of(std::size_t i, const std::string& value) const {
        if (days == 0) return false;
        auto it = original->dates_at.find(visit->path());
        if (it == original->dates_at.end() || (*positions)[i] >= it->second.size()) return false;
        const std::string moved = shifted_date(it->second[(*positions)[i]], days);
        if (moved.empty()) return false;
        return visit->vr == EVR_DA ? value == moved : value.compare(0, moved.size(), moved) == 0;
    }
};

bool match_value(const Needle& n, const Visit& v, const std::string& text, const std::vector<std::string>& values,
                 const OwnShift& shift) {
    if (v.binary) {
        if (n.kind == Kind::Uid) return find_uid(text, n.text);
        if (n.kind == Kind::Date) return find_date(text, {n.text});
        if (n.text.size() < kMinBinaryNeedle) return false;
        return find_token(text, n.text, false);
    }
    switch (n.kind) {
        case Kind::Uid:
            // A class slot holds an original's UID only when it was a private class or scheme UID
            // (the writer's implementation UID may equal one of the original's creator UIDs).
            if (is_writer_uid_tag(v.tag) || (is_class_uid_tag(v.tag) && !is_unregistered_class_uid(n.text))) return false;
            if (v.vr == EVR_UI) return std::find(values.begin(), values.end(), n.text) != values.end();
            return find_uid(text, n.text);
        case Kind::Date:
            if (v.vr == EVR_UI) return false;
            if (v.vr != EVR_DA && v.vr != EVR_DT) return false;  // text: match_text
            for (std::size_t i = 0; i < values.size(); ++i) {
                const std::string& x = values[i];
                if (v.vr == EVR_DA) {
                    if (digits_only(x) == n.text && !shift.of(i, x)) return true;
                    continue;
                }
                // A DT's shifted date is its first 8 characters: the needle anywhere after them counts.
                if (x.find(n.text, 1) != std::string::npos) return true;
                if (digits_only(x.substr(0, std::min<std::size_t>(10, x.size()))).substr(0, 8) == n.text && !shift.of(i, x))
                    return true;
            }
            return false;
        default:
            return false;
    }
}

// Which needles have a form occurring in a text: the forms indexed by their first two bytes (a
// bit per pair for the common miss, then the forms of that pair), so a text is scanned once
// whatever the number of needles. Forms shorter than two bytes are reported for every text.
class FormIndex {
public:
    void add(const std::string& form, std::size_t needle) {
        if (form.size() < 2) {
            always_.push_back(needle);
            return;
        }
        const std::uint16_t b = pair_at(form, 0);
        bits_[b >> 6] |= std::uint64_t(1) << (b & 63);
        entries_.push_back({b, &form, needle});
    }
    void finish() {
        std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.pair < b.pair; });
    }
    // Calls mark(needle) for every needle with a form in `hay` (a needle may be marked more than once).
    template <class Mark>
    void occurring(const std::string& hay, Mark&& mark) const {
        for (std::size_t n : always_) mark(n);
        if (entries_.empty()) return;
        for (std::size_t i = 0; i + 1 < hay.size(); ++i) {
            const std::uint16_t b = pair_at(hay, i);
            if (!((bits_[b >> 6] >> (b & 63)) & 1)) continue;
            auto it = std::lower_bound(entries_.begin(), entries_.end(), b, [](const Entry& e, std::uint16_t p) { return e.pair < p; });
            for (; it != entries_.end() && it->pair == b; ++it)
                if (hay.compare(i, it->form->size(), *it->form) == 0) mark(it->needle);
        }
    }

private:
    static std::uint16_t pair_at(const std::string& s, std::size_t i) {
        return static_cast<std::uint16_t>((static_cast<unsigned char>(s[i]) << 8) | static_cast<unsigned char>(s[i + 1]));
    }
    struct Entry {
        std::uint16_t pair;
        const std::string* form;
        std::size_t needle;
    };
    std::array<std::uint64_t, 1024> bits_{};
    std::vector<Entry> entries_;
    std::vector<std::size_t> always_;
};

}  // namespace

Identifiers collect_identifiers(DcmFileFormat& original) {
    Collector c;
    Decoder decoder;
    auto collect = [&](const Visit& v) {
        if (v.binary) return;
        const DcmTagKey& t = v.tag;
        if (v.vr == EVR_UI) {
            if (is_writer_uid_tag(t)) return;
            if (is_class_uid_tag(t)) {
                for (const std::string& one : split(v.text, '\\')) {
                    const std::string uid = trim(one);
                    if (is_unregistered_class_uid(uid)) c.add(uid, "uid");
                }
                return;
            }
            for (const std::string& one : split(v.text, '\\')) {
                std::string uid = trim(one);
                if (uid.empty() || uid.rfind("1.2.840.10008.", 0) == 0) continue;
                c.add(uid, is_device_tag(t) ? "device" : "uid");
            }
            return;
        }
        if (v.vr == EVR_DA || v.vr == EVR_DT) {
            c.add_dates(v.text, v.vr, t == DCM_PatientBirthDate ? "birth_date" : "date", v.path());
            return;
        }
        if (v.vr == EVR_PN) {
            c.add_name(v.text, is_patient_name_tag(t) ? "patient_name" : "staff_name");
            return;
        }
        if (t == DCM_PatientID) c.add_values(v.text, "patient_id");
        else if (t == DCM_RETIRED_OtherPatientIDs) c.add_values(v.text, "other_patient_id");
        else if (t == DCM_IssuerOfPatientID) c.add_values(v.text, "issuer");
        else if (t == DCM_AccessionNumber) c.add_values(v.text, "accession_number");
        else if (t == DCM_StudyID) c.add_values(v.text, "study_id");
        else if (is_institution_tag(t)) c.add_values(v.text, "institution");
        else if (t == DCM_PatientAddress) c.add_values(v.text, "address");
        else if (is_device_tag(t)) c.add_values(v.text, "device");
        else if (is_station_tag(t)) c.add_values(v.text, "station");
        else if (is_other_id_tag(t)) c.add_values(v.text, "other_id");
        else if (is_patient_name_tag(t)) c.add_name(v.text, "patient_name");
    };
    walk_file(original, decoder, [&](const Visit& v) {
        collect(v);
        for (const std::string& reading : v.other_readings) {
            Visit other = v;
            other.text = reading;
            collect(other);
        }
    });
    return std::move(c.ids_);
}

// The needles one identifying value gives: its own, and for an institution or an address its
// distinctive words before it; none for a value too short or a date that is none.
std::vector<Needle> build_needles(const Identifiers::Value& v) {
    std::vector<Needle> out;
    // Values collected by another build of collect_identifiers are normalised again here.
    Needle n{normalise(v.text, false), v.category, kind_of(v), {}};
    if (n.text.size() < kMinWholeValue) return out;
    std::vector<std::string> forms;
    if (n.kind == Kind::Date) {
        n.text = digits_only(n.text);
        if (!plausible_date(n.text)) return out;
        forms = date_written_forms(n.text);
    } else if (n.kind == Kind::Institution) {
        for (const std::string& p : phrase_variants(v.text))
            for (std::string& f : fold_variants(p)) forms.push_back(std::move(f));
        // Its distinctive words on their own (another word order): as names.
        for (const std::string& w : distinctive_words(v.text))
            out.push_back({w, v.category, Kind::PhraseWord, std::make_shared<const std::vector<std::string>>(1, w)});
    } else if (n.kind != Kind::Uid) {
        forms = fold_variants(v.text);
        // A CJK form of one character is too common to search (a family name such as 王 or 김).
        forms.erase(std::remove_if(forms.begin(), forms.end(), [](const std::string& f) {
                        if (f.empty() || static_cast<unsigned char>(f[0]) < 0x80) return false;
                        std::size_t chars = 0;
                        for (char c : f) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
                        return chars < 2;
                    }), forms.end());
    }
    n.forms = std::make_shared<const std::vector<std::string>>(std::move(forms));
    out.push_back(std::move(n));
    return out;
}

// build_needles for the values of one instance after another. Building them (every written form
// of every name, date and institution) was a third of the verifier's work on a small instance,
// and the instances of a series, sent one after the other, have the same names, ids and dates:
// the needles of the previous instance's values are kept (in memory only, by the worker thread,
// like everything else of the instance it processes) and only new values are built. A UID, new
// in every instance and cheap to build, is not kept.
class NeedleMemo {
public:
    const std::vector<Needle>& needles_of(const Identifiers::Value& v) {
        if (v.category == "uid") return uid_ = build_needles(v);
        Key key{v.text, v.category};
        auto it = current_.find(key);
        if (it != current_.end()) return it->second;
        // The previous instance's entry moves across whole (no moved-from entry left behind if
        // the insert throws): a value is never looked up with needles emptied by a failure.
        if (auto node = previous_.extract(key)) return current_.insert(std::move(node)).position->second;
        return current_.emplace(std::move(key), build_needles(v)).first->second;
    }
    // The values of the instance just verified become the ones kept.
    void next_instance() {
        previous_.swap(current_);
        current_.clear();
    }

private:
    using Key = std::pair<std::string, std::string>;  // text, category
    std::map<Key, std::vector<Needle>> previous_, current_;
    std::vector<Needle> uid_;
};

VerifyReport verify(const config::Profile& profile, const Identifiers& original, DcmFileFormat& output,
                    int date_shift_days) {
    thread_local NeedleMemo memo;
    const bool keep_uids = profile.has("retain_uids");
    const bool keep_dates = profile.has("retain_long_full_dates");
    const bool keep_institution = profile.has("retain_institution_identity");
    const bool keep_device = profile.has("retain_device_identity");

    std::vector<Needle> needles;
    std::set<std::string> retained_dates;  // for the birth-date coincidence rule below
    for (const auto& v : original.values)
        if (v.category == "date") retained_dates.insert(v.text);
    for (const auto& v : original.values) {
        if (keep_uids && v.category == "uid") continue;
        if (keep_dates && v.category == "date") continue;
        if (keep_institution && v.category == "institution") continue;
        if (keep_device && (v.category == "device" || v.category == "station")) continue;
        for (const Needle& n : memo.needles_of(v)) needles.push_back(n);
    }
    memo.next_instance();

    std::vector<const Needle*> date_needles;
    for (const Needle& n : needles)
        if (n.kind == Kind::Date) date_needles.push_back(&n);

    // The needles indexed once per instance, so each output value is scanned once whatever the
    // number of identifiers: `forms` holds every folded form of the needles match_text reads,
    // `uids` the UID needles' text (match_value's find_uid and the UI values' equality).
    FormIndex forms, uids;
    std::unordered_map<std::string, std::vector<std::size_t>> uid_values;  // UI values: equality
    std::vector<std::size_t> date_or_uid;  // DA/DT values: only these kinds can match there
    bool uids_plain = true;                // every UID needle is digits and dots only
    for (std::size_t i = 0; i < needles.size(); ++i) {
        const Needle& n = needles[i];
        if (n.kind == Kind::Uid) {
            uids.add(n.text, i);
            uid_values[n.text].push_back(i);
            uids_plain = uids_plain && !n.text.empty() &&
                         std::all_of(n.text.begin(), n.text.end(), [](char c) { return is_digit(static_cast<unsigned char>(c)) || c == '.'; });
        } else {
            for (const std::string& f : *n.forms) forms.add(f, i);
        }
        if (n.kind == Kind::Uid || n.kind == Kind::Date) date_or_uid.push_back(i);
    }
    forms.finish();
    uids.finish();
    std::vector<std::size_t> stamp(needles.size(), 0), candidates;
    std::size_t visit_no = 0;

    VerifyReport report;
    std::set<std::string> reported;
    Decoder decoder;
    auto check = [&](const Visit& v) {
        // Which needles can match this value at all. Exact for UI, DA and DT (only UID and date
        // needles are ever matched there); for ASCII text every match needs one of the needle's
        // forms (or its UID) as a substring of the folded value (or of the value), which the
        // indexes find; any other value is matched against every needle.
        ++visit_no;
        candidates.clear();
        auto mark = [&](std::size_t i) {
            if (stamp[i] != visit_no) {
                stamp[i] = visit_no;
                candidates.push_back(i);
            }
        };
        // match_text reads the folded value (with its word boundaries), built only for a value
        // that some needle can match: UI, DA and DT values never need it.
        const bool text_value = !v.binary && v.vr != EVR_UI && v.vr != EVR_DA && v.vr != EVR_DT;
        std::unique_ptr<FoldedText> folded;
        const bool ascii = !v.binary && is_ascii(v.text);
        if (!ascii) {
            for (std::size_t i = 0; i < needles.size(); ++i) candidates.push_back(i);
        } else if (v.vr == EVR_UI) {
            for (const std::string& one : split(v.text, '\\')) {
                auto it = uid_values.find(normalise(one, false));
                if (it != uid_values.end())
                    for (std::size_t i : it->second) mark(i);
            }
            std::sort(candidates.begin(), candidates.end());  // the needles' order, as reported
        } else if (v.vr == EVR_DA || v.vr == EVR_DT) {
            candidates = date_or_uid;
        } else {
            // (ASCII: fold() keeps exactly what FoldedText keeps, letters in lower case and digits.)
            forms.occurring(fold(v.text), mark);
            // A digits-and-dots needle occurs in the normalised value exactly where it occurs in
            // the value (normalising only changes letters and blanks).
            if (uids_plain) uids.occurring(v.text, mark);
            else
                for (std::size_t i = 0; i < needles.size(); ++i)
                    if (needles[i].kind == Kind::Uid) mark(i);
            std::sort(candidates.begin(), candidates.end());  // the needles' order, as reported
        }
        if (!candidates.empty()) {
            if (text_value) folded = std::make_unique<FoldedText>(v.text);
            const std::string text = v.binary ? upper(v.text) : normalise(v.text, v.vr == EVR_PN);
            std::vector<std::string> values, folded_values;
            std::vector<std::size_t> positions;  // values[i]'s position in the element
            if (!v.binary) {
                std::size_t position = 0;
                for (const std::string& one : split(v.text, '\\')) {
                    const std::size_t at = position++;
                    std::string x = normalise(one, v.vr == EVR_PN);
                    if (x.empty()) continue;
                    positions.push_back(at);
                    folded_values.push_back(fold(x));
                    values.push_back(std::move(x));
                }
            }
            const OwnShift shift{&original, date_shift_days, &v, &positions};
            std::vector<FoldedText> codes;  // CS: the values that are no defined term of the attribute
            if (v.vr == EVR_CS)
                for (const std::string& one : split(v.text, '\\')) {
                    const std::string value = trim(one);
                    if (!value.empty() && !is_defined_term(v.tag.getGroup(), v.tag.getElement(), value)) codes.emplace_back(value);
                }
            for (std::size_t i : candidates) {
                const Needle& n = needles[i];
                if (n.kind == Kind::Date && keep_device && is_device_date_tag(v.tag)) continue;
                // The issuer of the patient id usually names the institution: kept with it.
                if (keep_institution && n.category == "issuer" && is_institution_tag(v.tag)) continue;
                // With full dates retained, a birth date equal to another kept date of the instance is that date.
                if (keep_dates && n.category == "birth_date" && v.tag != DCM_PatientBirthDate &&
                    (v.vr == EVR_DA || v.vr == EVR_DT) && retained_dates.count(n.text))
                    continue;
                const bool hit = n.kind == Kind::Uid || v.binary || (n.kind == Kind::Date && (v.vr == EVR_DA || v.vr == EVR_DT))
                                     ? match_value(n, v, text, values, shift)
                                     : folded && match_text(n, v, *folded, folded_values, codes);
                if (!hit) continue;
                if (reported.insert(v.path() + '\n' + n.category).second) report.leaks.push_back({v.path(), n.category});
            }
        }
        // Ages over 89 (HIPAA Safe Harbor: "90 or older").
        if (v.vr == EVR_AS && !profile.keep_ages_over_89 && v.text.size() >= 4 && is_digit(static_cast<unsigned char>(v.text[0]))) {
            // 90 or older is written 090Y; any other writing of such an age is a leak.
            const int n = std::atoi(v.text.substr(0, 3).c_str());
            const char unit = v.text[3];
            const bool old = (unit == 'Y' && n > 90) || (unit == 'M' && n >= 90 * 12) || (unit == 'W' && n >= 90 * 52);
            if (old && reported.insert(v.path() + "\nage_over_89").second)
                report.leaks.push_back({v.path(), "age_over_89"});
        }
        // The original's dates in any written form the date finder reads (day-month without a
        // year, other languages, CJK), in free text.
        if (!v.binary && is_free_text_vr(v.vr) && !date_needles.empty())
            for (const TextDate& d : find_text_dates(v.text))
                for (const Needle* n : date_needles) {
                    const int y = std::atoi(n->text.substr(0, 4).c_str()), m = std::atoi(n->text.substr(4, 2).c_str()),
                              day = std::atoi(n->text.substr(6, 2).c_str());
                    const bool same = (d.month == m && d.day == day) || (d.ambiguous && d.month == day && d.day == m);
                    if (!same || (d.year != 0 && d.year != y)) continue;
                    if (keep_device && is_device_date_tag(v.tag)) continue;
                    if (reported.insert(v.path() + '\n' + n->category).second) report.leaks.push_back({v.path(), n->category});
                }
        // Identifiers no header element holds, by their shape (the cleaner removes the same
        // shapes from every text it cleans or keeps).
        // (Patient ID and the de-identification method are the engine's own writing.)
        if (!v.binary && is_free_text_vr(v.vr) && !is_engine_written_tag(v.tag))
            for (const PatternMatch& m : find_patterns(v.text)) {
                const std::string category = pattern_name(m.kind);
                if (reported.insert(v.path() + '\n' + category).second) report.leaks.push_back({v.path(), category});
            }
    };
    walk_file(output, decoder, [&](const Visit& v) {
        check(v);
        for (const std::string& reading : v.other_readings) {
            Visit other = v;
            other.text = reading;
            check(other);
        }
    });
    return report;
}

std::string VerifyReport::summary() const {
    if (leaks.empty()) return "clean";
    std::string s;
    for (const Leak& l : leaks) {
        if (!s.empty()) s += "; ";
        s += "leak: " + l.category + " in " + l.tag_path;
    }
    return s;
}

}  // namespace deid
