// The verifier (see deid/Verifier.h and docs/verification.md for what it checks and why the
// thresholds are what they are). Nothing here logs or returns a value: only tags and categories.
#include "deid/Verifier.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcspchrs.h>

namespace deid {
namespace {

// ---- thresholds (documented in docs/verification.md) ----------------------------------------
constexpr std::size_t kMinComponent = 2;       // name components shorter than this are not collected
constexpr std::size_t kMinLooseToken = 4;      // shorter needles need a real word boundary on both sides
constexpr std::size_t kMinIdSearch = 3;        // ids shorter than this are only matched as a whole value
constexpr std::size_t kMinWholeValue = 2;      // 1-character values are never matched
constexpr std::size_t kMinSubstring = 5;       // full names / institutions: plain substring from here on
constexpr std::size_t kMinBinaryNeedle = 5;    // inside OB/OW/UN bytes only needles at least this long
constexpr std::size_t kMaxBinaryScan = 1u << 20;  // OB/OW/UN values larger than this are not scanned

// Tokens that identify nobody: titles, particles and the usual placeholders.
const std::set<std::string>& generic_tokens() {
    static const std::set<std::string> s = {
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
    std::string out;
    out.reserve(u.size());
    bool space = false;
    for (char ch : u) {
        unsigned char c = static_cast<unsigned char>(ch);
        bool blank = c <= ' ' || (person_name && (c == '^' || c == '='));
        if (blank) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += ch;
    }
    return out;
}

std::vector<std::string> split(const std::string& s, char delim) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == delim) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

std::string trim(const std::string& s) {
    std::size_t b = s.find_first_not_of(" \t\r\n\0", 0, 5);
    if (b == std::string::npos) return {};
    std::size_t e = s.find_last_not_of(" \t\r\n\0", std::string::npos, 5);
    return s.substr(b, e - b + 1);
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

std::string tag_text(const DcmTagKey& t) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "(%04x,%04x)", t.getGroup(), t.getElement());
    return buf;
}

bool is_text_vr(DcmEVR vr) {
    switch (vr) {
        case EVR_AE: case EVR_CS: case EVR_DA: case EVR_DT: case EVR_LO: case EVR_LT: case EVR_PN:
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
        if (charset.empty() || charset == "ISO_IR 6" || charset == "ISO_IR 192") return raw;
        bool ascii = std::all_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != 0x1B; });
        if (ascii) return raw;
        auto it = converters_.find(charset);
        if (it == converters_.end()) {
            auto conv = std::make_unique<DcmSpecificCharacterSet>();
            if (conv->selectCharacterSet(charset.c_str(), "ISO_IR 192").bad()) conv.reset();
            it = converters_.emplace(charset, std::move(conv)).first;
        }
        if (!it->second) return raw;  // unknown character set: compare the bytes as they are
        OFString out;
        const char* delimiters = vr == EVR_PN ? "\\^=" : (vr == EVR_LT || vr == EVR_ST || vr == EVR_UT) ? "" : "\\";
        if (it->second->convertString(OFString(raw.data(), raw.size()), out, delimiters).bad()) return raw;
        return std::string(out.c_str(), out.length());
    }

private:
    std::map<std::string, std::unique_ptr<DcmSpecificCharacterSet>> converters_;
};

struct Visit {
    DcmElement* element;
    DcmTagKey tag;
    DcmEVR vr;
    std::string path;
    std::string text;    // decoded value of a string VR (raw bytes for OB/OW/UN)
    bool binary = false;
};

std::string raw_string(DcmElement* e) {
    char* p = nullptr;
    Uint32 len = 0;
    if (e->getString(p, len).bad() || !p) return {};
    return std::string(p, len);
}

std::string raw_bytes(DcmElement* e, DcmEVR vr) {
    if (e->getLength() == 0 || e->getLength() > kMaxBinaryScan) return {};
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
    const unsigned long n = item.card();
    for (unsigned long i = 0; i < n; ++i) {
        DcmElement* e = item.getElement(i);
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
        Visit v{e, tag, vr, prefix + tag_text(tag), {}, false};  // the path only for visited elements
        if (is_text_vr(vr)) {
            std::string raw = raw_string(e);
            v.text = is_charset_vr(vr) ? decoder.decode(raw, charset, vr) : raw;
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
                      DCM_MilitaryRank, DCM_PatientTelephoneNumbers, DCM_PatientAddress});
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
    void add_dates(const std::string& raw, DcmEVR vr, const std::string& category) {
        for (const std::string& one : split(raw, '\\')) {
            std::string d = trim(one);
            if (vr == EVR_DT) d = d.substr(0, std::min<std::size_t>(8, d.size()));
            d = digits_only(d);
            if (plausible_date(d)) add(d, category);
        }
    }
    Identifiers ids_;

private:
    std::set<std::string> seen_;
};

// ---- matching --------------------------------------------------------------------------------

enum class Kind { Name, FullName, Id, Institution, Uid, Date };

struct Needle {
    std::string text;  // normalised
    std::string category;
    Kind kind;
    std::vector<std::string> forms;  // dates: the written forms searched in text
};

Kind kind_of(const Identifiers::Value& v) {
    if (v.category == "date" || v.category == "birth_date") return Kind::Date;
    if (v.category == "uid" || is_uid_shaped(v.text)) return Kind::Uid;
    if (v.category == "patient_name" || v.category == "staff_name")
        return v.text.find(' ') == std::string::npos ? Kind::Name : Kind::FullName;
    if (v.category == "institution") return Kind::Institution;
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
bool find_date(const std::string& hay, const Needle& n) {
    for (const std::string& form : n.forms)
        for (std::size_t pos = hay.find(form); pos != std::string::npos; pos = hay.find(form, pos + 1)) {
            bool before = pos > 0 && is_digit(static_cast<unsigned char>(hay[pos - 1]));
            bool after = pos + form.size() < hay.size() && is_digit(static_cast<unsigned char>(hay[pos + form.size()]));
            if (!before && !after) return true;
        }
    return false;
}

std::vector<std::string> date_forms(const std::string& d, bool binary_only) {
    const std::string y = d.substr(0, 4), m = d.substr(4, 2), day = d.substr(6, 2);
    if (binary_only) return {d};
    return {d, y + "-" + m + "-" + day, y + "/" + m + "/" + day, y + "." + m + "." + day,
            m + "/" + day + "/" + y, day + "." + m + "." + y, day + "/" + m + "/" + y, m + "-" + day + "-" + y};
}

bool match_value(const Needle& n, const Visit& v, const std::string& text, const std::vector<std::string>& values) {
    if (v.binary) {
        if (n.kind == Kind::Uid) return find_uid(text, n.text);
        if (n.kind == Kind::Date) return find_date(text, Needle{n.text, n.category, n.kind, {n.text}});
        if (n.text.size() < kMinBinaryNeedle) return false;
        return find_token(text, n.text, false);
    }
    switch (n.kind) {
        case Kind::Uid:
            if (is_class_uid_tag(v.tag)) return false;  // an implementation or creator UID equal to one of the original's
            if (v.vr == EVR_UI) return std::find(values.begin(), values.end(), n.text) != values.end();
            return find_uid(text, n.text);
        case Kind::Date:
            if (v.vr == EVR_UI) return false;
            if (v.vr == EVR_DA)
                return std::any_of(values.begin(), values.end(), [&](const std::string& x) { return digits_only(x) == n.text; });
            if (v.vr == EVR_DT)
                return std::any_of(values.begin(), values.end(), [&](const std::string& x) {
                    return digits_only(x.substr(0, std::min<std::size_t>(10, x.size()))).substr(0, 8) == n.text ||
                           x.find(n.text) != std::string::npos;
                });
            return find_date(text, n);
        default:
            break;
    }
    // Names, ids and institutions are not searched in UIDs, dates or coded strings (CS holds
    // enumerated values such as TEXT or PNAME that would match placeholder names).
    if (v.vr == EVR_UI || v.vr == EVR_DA || v.vr == EVR_DT || v.vr == EVR_CS) return false;
    if (n.kind != Kind::Name && n.kind != Kind::FullName && is_equipment_make_tag(v.tag)) return false;
    // Whole value equal (ids and names of any length >= 2).
    if (std::find(values.begin(), values.end(), n.text) != values.end()) return true;
    switch (n.kind) {
        case Kind::Name:
            return find_token(text, n.text, n.text.size() < kMinLooseToken);
        case Kind::FullName:
        case Kind::Institution:
            if (n.text.size() >= kMinSubstring) return text.find(n.text) != std::string::npos;
            return find_token(text, n.text, true);
        case Kind::Id:
            if (n.text.size() < kMinIdSearch) return false;
            return find_token(text, n.text, n.text.size() < kMinLooseToken + 1);
        default:
            return false;
    }
}

}  // namespace

Identifiers collect_identifiers(DcmFileFormat& original) {
    Collector c;
    Decoder decoder;
    walk_file(original, decoder, [&](const Visit& v) {
        if (v.binary) return;
        const DcmTagKey& t = v.tag;
        if (v.vr == EVR_UI) {
            if (is_class_uid_tag(t)) return;
            for (const std::string& one : split(v.text, '\\')) {
                std::string uid = trim(one);
                if (uid.empty() || uid.rfind("1.2.840.10008.", 0) == 0) continue;
                c.add(uid, is_device_tag(t) ? "device" : "uid");
            }
            return;
        }
        if (v.vr == EVR_DA || v.vr == EVR_DT) {
            c.add_dates(v.text, v.vr, t == DCM_PatientBirthDate ? "birth_date" : "date");
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
        else if (is_device_tag(t)) c.add_values(v.text, "device");
        else if (is_station_tag(t)) c.add_values(v.text, "station");
        else if (is_other_id_tag(t)) c.add_values(v.text, "other_id");
        else if (is_patient_name_tag(t)) c.add_name(v.text, "patient_name");
    });
    return std::move(c.ids_);
}

VerifyReport verify(const config::Profile& profile, const Identifiers& original, DcmFileFormat& output) {
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
        // Values collected by another build of collect_identifiers are normalised again here.
        Needle n{normalise(v.text, false), v.category, kind_of(v), {}};
        if (n.text.size() < kMinWholeValue) continue;
        if (n.kind == Kind::Date) {
            n.text = digits_only(n.text);
            if (!plausible_date(n.text)) continue;
            n.forms = date_forms(n.text, false);
        }
        needles.push_back(std::move(n));
    }

    VerifyReport report;
    std::set<std::string> reported;
    Decoder decoder;
    walk_file(output, decoder, [&](const Visit& v) {
        const std::string text = v.binary ? upper(v.text) : normalise(v.text, v.vr == EVR_PN);
        std::vector<std::string> values;
        if (!v.binary)
            for (const std::string& one : split(v.text, '\\')) {
                std::string x = normalise(one, v.vr == EVR_PN);
                if (!x.empty()) values.push_back(std::move(x));
            }
        for (const Needle& n : needles) {
            if (n.kind == Kind::Date && keep_device && is_device_date_tag(v.tag)) continue;
            // With full dates retained, a birth date equal to another kept date of the instance is that date.
            if (keep_dates && n.category == "birth_date" && v.tag != DCM_PatientBirthDate &&
                (v.vr == EVR_DA || v.vr == EVR_DT) && retained_dates.count(n.text))
                continue;
            if (!match_value(n, v, text, values)) continue;
            if (reported.insert(v.path + '\n' + n.category).second) report.leaks.push_back({v.path, n.category});
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
