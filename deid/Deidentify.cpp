#include "deid/Deidentify.h"

#include "deid/DcmValues.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <stdexcept>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include "deid/CharsetDecoder.h"
#include "deid/Conditions.h"
#include "deid/Ps315Table.h"
#include "deid/SafeAttributes.h"
#include "deid/TextCleaner.h"
#include "deid/TextNormaliser.h"
#include "deid/Vocabulary.h"

namespace deid {

namespace {

constexpr std::uint32_t key(std::uint16_t g, std::uint16_t e) { return (std::uint32_t(g) << 16) | e; }

template <std::size_t N>
std::vector<std::uint32_t> sorted(const std::uint32_t (&keys)[N]) {
    std::vector<std::uint32_t> v(keys, keys + N);
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> split_values(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t p = s.find('\\', start);
        out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) break;
        start = p + 1;
    }
    return out;
}

std::string join_values(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "\\" : "") + v[i];
    return s;
}

enum class VrClass { Text, PersonName, Date, DateTime, Time, Uid, Ae, Age, Sequence, Safe, Unknown };

VrClass classify(DcmElement* el) {
    switch (el->ident()) {
        case EVR_LO: case EVR_SH: case EVR_ST: case EVR_LT: case EVR_UT: case EVR_UC: case EVR_UR:
            return VrClass::Text;
        case EVR_PN: return VrClass::PersonName;
        case EVR_DA: return VrClass::Date;
        case EVR_DT: return VrClass::DateTime;
        case EVR_TM: return VrClass::Time;
        case EVR_UI: return VrClass::Uid;
        case EVR_AE: return VrClass::Ae;
        case EVR_AS: return VrClass::Age;
        case EVR_SQ: return VrClass::Sequence;
        case EVR_US: case EVR_SS: case EVR_UL: case EVR_SL: case EVR_FL: case EVR_FD: case EVR_DS: case EVR_IS:
        case EVR_AT: case EVR_OB: case EVR_OW: case EVR_OF: case EVR_OD: case EVR_OL: case EVR_OV: case EVR_SV:
        case EVR_UV: case EVR_CS: case EVR_ox: case EVR_xs: case EVR_lt: case EVR_PixelData:
        case EVR_OverlayData: case EVR_pixelSQ:
            return VrClass::Safe;
        default:
            return VrClass::Unknown;  // UN and anything DCMTK could not type
    }
}

// Cuts each value to the VR's maximum length (at a UTF-8 boundary), so a cleaned value that grew
// ("JD" -> "[removed]") stays valid.
std::string fit(const std::string& value, DcmElement* el) {
    DcmVR vr(el->getVR());
    const Uint32 max = vr.getMaxValueLength();
    if (max == 0 || max >= 1024) return value;  // LT/ST/UT/UC/UR: long enough
    std::vector<std::string> parts = split_values(value);
    for (std::string& p : parts) {
        if (p.size() <= max) continue;
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(p[cut]) & 0xC0) == 0x80) --cut;
        // Never leave half a "[removed]" behind.
        const std::size_t open = p.rfind('[', cut);
        if (open != std::string::npos && p.compare(open, 9, "[removed]") == 0 && open + 9 > cut) cut = open;
        p = trim(p.substr(0, cut));
        while (!p.empty() && (p.back() == ',' || p.back() == ';')) p.pop_back();
    }
    return join_values(parts);
}

const char* dummy_for(DcmElement* el) {
    switch (el->ident()) {
        case EVR_PN: return "ANONYMOUS";
        case EVR_DA: return "19000101";
        case EVR_DT: return "19000101000000";
        case EVR_TM: return "000000";
        case EVR_AS: return "000D";
        case EVR_IS: case EVR_DS: return "0";
        case EVR_CS: return "ANONYMIZED";
        case EVR_AE: return "ANONYMIZED";
        case EVR_UR: return "urn:none";
        default: return "ANONYMIZED";
    }
}

// Shifts a DA value (YYYYMMDD) or the date part of a DT value by `days`; "" when unparseable.
// ISO 8601 and other sloppy writings of a DA or DT value ("2023-01-05", "2023/01/05",
// "2023-01-05T10:20:30.5+01:00") to the DICOM form ("20230105", "20230105102030.5+0100"), so the
// whole value is shifted; anything still not in the DICOM form is removed by the caller.
std::string dicom_date_form(const std::string& v, bool datetime) {
    if (v.size() >= 10 && std::isdigit(static_cast<unsigned char>(v[0])) && (v[4] == '-' || v[4] == '/' || v[4] == '.') &&
        v[7] == v[4]) {
        std::string out = v.substr(0, 4) + v.substr(5, 2) + v.substr(8, 2);
        if (!datetime) return v.size() == 10 ? out : std::string();
        std::string rest = v.substr(10);
        if (!rest.empty() && (rest[0] == 'T' || rest[0] == ' ')) rest.erase(0, 1);
        for (char c : rest)
            if (c != ':') out += c;
        return out;
    }
    return v;
}

std::string shift_date_value(const std::string& raw, int days, bool datetime) {
    std::string v = dicom_date_form(trim(raw), datetime);
    if (v.empty()) return v;
    for (char c : v)  // never shift part of a value: only digits (and a DT's fraction and offset)
        if (!std::isdigit(static_cast<unsigned char>(c)) && !(datetime && (c == '.' || c == '+' || c == '-')))
            return "";
    std::size_t digits = 0;
    while (digits < v.size() && digits < 8 && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
    if (!datetime && (digits != 8 || v.size() != 8)) return "";
    if (datetime && digits != 4 && digits != 6 && digits != 8) return "";
    std::tm tm{};
    tm.tm_year = std::stoi(v.substr(0, 4)) - 1900;
    tm.tm_mon = digits >= 6 ? std::stoi(v.substr(4, 2)) - 1 : 6;   // year only: shift from mid-year
    tm.tm_mday = digits >= 8 ? std::stoi(v.substr(6, 2)) : 15;     // year-month: from mid-month
    tm.tm_hour = 12;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return "";
    tm.tm_mday += days;
    if (timegm(&tm) == static_cast<time_t>(-1)) return "";
    if (tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999) return "";
    // YYYYMMDD (the year is 1..9999 here), cut to the digits the value had.
    char buf[8];
    auto put = [&buf](int at, int value, int width) {
        for (int k = width - 1; k >= 0; --k, value /= 10) buf[at + k] = static_cast<char>('0' + value % 10);
    };
    put(0, tm.tm_year + 1900, 4);
    put(4, tm.tm_mon + 1, 2);
    put(6, tm.tm_mday, 2);
    return std::string(buf, digits) + v.substr(digits);
}

bool registered_uids(DcmElement* el);

// An AS value (nnnD, nnnW, nnnM, nnnY) of 90 years or more.
bool age_over_89(const std::string& v) {
    if (v.size() != 4 || !std::isdigit(static_cast<unsigned char>(v[0]))) return false;
    const int n = std::atoi(v.substr(0, 3).c_str());
    switch (v[3]) {
        case 'Y': return n >= 90;
        case 'M': return n >= 90 * 12;
        case 'W': return n >= 90 * 52;
        default: return false;  // days: at most 999, under three years
    }
}

bool is_charset_vr(DcmEVR vr) {
    return vr == EVR_PN || vr == EVR_LO || vr == EVR_SH || vr == EVR_ST || vr == EVR_LT || vr == EVR_UT || vr == EVR_UC;
}

// Every text value of `item` (and its sequences) to UTF-8: ISO 2022 through ICU (iso2022), or an
// undeclared set read as UTF-8 or ISO 8859-1. True when every value decoded (and, for undeclared,
// when any value was not ASCII). A value that does not decode is left as it is (the verifier
// then sees its bytes).
using Readings = std::map<const DcmElement*, std::vector<std::string>>;

bool to_utf8(DcmItem& item, const std::string& charset, bool iso2022, Readings* readings = nullptr) {
    bool changed = false, all = true;
    // nextInContainer, not getElement(i): DcmList::seek_to walks from the first element every time.
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        DcmElement* el = static_cast<DcmElement*>(o);
        if (el->ident() == EVR_SQ) {
            auto* seq = static_cast<DcmSequenceOfItems*>(el);
            for (unsigned long k = 0; k < seq->card(); ++k) {
                const bool nested = to_utf8(*seq->getItem(k), charset, iso2022, readings);
                changed = changed || nested;
                all = all && (nested || !iso2022);
            }
            continue;
        }
        if (!is_charset_vr(el->ident())) continue;
        char* p = nullptr;
        Uint32 len = 0;
        if (el->getString(p, len).bad() || !p) continue;
        const std::string raw(p, len);
        // ISO 2022 text may be 7-bit (ESC $ B ...): only text without escapes is plain ASCII.
        if (is_ascii(raw) && raw.find('\x1b') == std::string::npos) continue;
        if (iso2022) {
            const auto decoded = decode_iso2022(raw, charset, el->ident() == EVR_PN);
            if (!decoded) {
                all = false;
                continue;
            }
            el->putString(decoded->c_str(), static_cast<Uint32>(decoded->size()));
        } else {
            std::vector<std::string> all = unlabelled_readings(raw);
            const std::string decoded = all.front();
            // The other readings of the same bytes, for matching (scan_identifiers, finish).
            if (readings && all.size() > 1) (*readings)[el] = std::vector<std::string>(all.begin() + 1, all.end());
            if (decoded != raw) el->putString(decoded.c_str(), static_cast<Uint32>(decoded.size()));
        }
        changed = true;
    }
    return iso2022 ? all : changed;
}

struct MethodCode {
    const char* value;
    const char* meaning;
};
const MethodCode kMethodCodes[] = {
    {"113100", "Basic Application Confidentiality Profile"},
    {"113101", "Clean Pixel Data Option"},
    {"113102", "Clean Recognizable Visual Features Option"},
    {"113103", "Clean Graphics Option"},
    {"113104", "Clean Structured Content Option"},
    {"113105", "Clean Descriptors Option"},
    {"113106", "Retain Longitudinal Temporal Information Full Dates Option"},
    {"113107", "Retain Longitudinal Temporal Information Modified Dates Option"},
    {"113108", "Retain Patient Characteristics Option"},
    {"113109", "Retain Device Identity Option"},
    {"113110", "Retain UIDs Option"},
    {"113111", "Retain Safe Private Option"},
    {"113112", "Retain Institution Identity Option"},
};

// How the values of a subtree are treated where the table does not name the attribute.
enum class Mode {
    Normal,       // allow-list: unknown text removed
    ContentTree,  // SR content items: TEXT cleaned (clean_structured_content) or replaced
    Clean,        // inside a sequence the table says to clean (C): text cleaned, names replaced
    Graphics,     // graphic annotations kept with clean_graphics: text cleaned
};

enum class Act { Keep, Remove, Empty, Dummy, Clean, Remap, Shift, Pseudonym, Hash, Replace, Recurse };

struct Decision {
    Decision(Act a = Act::Remove, Mode m = Mode::Normal, std::string v = {}) : act(a), mode(m), value(std::move(v)) {}
    static Decision by_rule(Decision d) {
        d.rule = true;
        return d;
    }
    Act act;
    bool rule = false;  // a site rule decided: kept text is not cleaned
    Mode mode;          // for Recurse
    std::string value;  // for Replace
};

struct Pending {
    enum Kind { Uid, Hash, Pseudonym, Shift, Clean, CleanKept } kind;
    DcmElement* element;
    std::vector<std::size_t> indexes;  // into the request's uids (one per value) or hashes
    std::vector<std::string> values;   // Uid: the element's values as remap() read them
};

// One value for the text cleaner, as scan_identifiers found it.
struct CleanerInput {
    enum class Kind { PersonName, PatientName, Identifier, Phrase, Date } kind;
    std::string value;
    bool operator==(const CleanerInput& o) const { return kind == o.kind && value == o.value; }
};

// The text cleaner built from `inputs`. Building one (every written form of every name, date and
// id) was a tenth of a small instance's de-identification, and the instances of a series, sent one
// after the other, give the same inputs: the worker thread keeps the last one it built (in memory
// only, like everything else of the instance it processes) and builds again only when they differ.
// The date shift is the caller's to set (or clear) on every use. One still held by an engine
// running on this thread (an apply called from inside another's PseudonymSource) is never handed
// out again, and outlives the memo's next one.
std::shared_ptr<TextCleaner> cleaner_for(std::vector<CleanerInput>& inputs) {
    struct Built {
        std::vector<CleanerInput> inputs;
        std::shared_ptr<TextCleaner> cleaner;
    };
    thread_local Built last;
    if (last.cleaner && last.cleaner.use_count() == 1 && last.inputs == inputs) return last.cleaner;
    last.cleaner.reset();
    auto cleaner = std::make_shared<TextCleaner>();
    for (const CleanerInput& in : inputs) {
        switch (in.kind) {
            case CleanerInput::Kind::PersonName: cleaner->add_person_name(in.value, false); break;
            case CleanerInput::Kind::PatientName: cleaner->add_person_name(in.value, true); break;
            case CleanerInput::Kind::Identifier: cleaner->add_identifier(in.value); break;
            case CleanerInput::Kind::Phrase: cleaner->add_phrase(in.value); break;
            case CleanerInput::Kind::Date: cleaner->add_date(in.value); break;
        }
    }
    last.inputs = std::move(inputs);
    last.cleaner = cleaner;
    return cleaner;
}

class Engine {
public:
    Engine(const Profile& profile, DcmItem& dataset, DcmMetaInfo* meta, PseudonymSource& source)
        : p_(profile), ds_(dataset), meta_(meta), source_(source) {}

    DeidReport run();

private:
    void scan_identifiers(DcmItem& item);
    void process_item(DcmItem& item, Mode mode, int depth);
    Decision decide(DcmElement* el, Mode mode, int depth, const std::map<std::uint32_t, std::string>& creators,
                    std::set<std::uint32_t>& used_blocks);
    Ps315Action resolve(const Ps315Row& row) const;
    Decision by_action(Ps315Action a, DcmElement* el, Mode mode);
    void perform(DcmItem& item, DcmElement* el, const Decision& d);
    void remap(DcmElement* el);
    void check_coded(DcmElement* el);
    bool binary_holds_identifier(DcmElement* el);
    void aggregate_age(DcmElement* el);
    void finish(const PseudonymReply& reply);
    void write_method(DeidReport& report);
    void process_meta();

    const Profile& p_;
    DcmItem& ds_;
    DcmMetaInfo* meta_;
    PseudonymSource& source_;
    InstanceFacts facts_;
    bool enhanced_ = false;
    std::string patient_name_;
    // What scan_identifiers found, in order: the cleaner is built from it (cleaner_for).
    std::vector<CleanerInput> cleaner_inputs_;
    std::shared_ptr<TextCleaner> cleaner_;
    PseudonymRequest request_;
    std::unordered_map<std::string, std::size_t> uid_index_;  // original UID -> its index in request_.uids
    std::vector<Pending> pending_;
    Readings readings_;  // undeclared character set: other readings of a value's bytes
    DeidReport report_;
};

Ps315Action Engine::resolve(const Ps315Row& row) const {
    const bool enabled[] = {p_.retain_safe_private, p_.retain_uids, p_.retain_device_identity,
                            p_.retain_institution_identity, p_.retain_patient_characteristics,
                            p_.retain_long_full_dates, p_.retain_long_modified_dates, p_.clean_descriptors,
                            p_.clean_structured_content, p_.clean_graphics};
    bool keep = false, clean = false;
    for (int i = 0; i < static_cast<int>(Ps315Option::Count); ++i) {
        if (!enabled[i]) continue;
        if (row.options[i] == Ps315Action::K) keep = true;
        if (row.options[i] == Ps315Action::C) clean = true;
    }
    // Where several applied options name the attribute, the one that retains most wins: K, then C.
    if (keep) return Ps315Action::K;
    if (clean) return Ps315Action::C;
    return row.basic;
}

Decision Engine::by_action(Ps315Action a, DcmElement* el, Mode mode) {
    const VrClass vc = classify(el);
    const DcmTagKey tag = el->getTag();
    // Compound codes: the least removing choice that keeps the object valid.
    if (a == Ps315Action::XZ || a == Ps315Action::XD || a == Ps315Action::ZD || a == Ps315Action::XZD) {
        const int type = attribute_type(tag.getGroup(), tag.getElement(), facts_.sop_class_uid, enhanced_);
        const bool has_x = a != Ps315Action::ZD, has_z = a != Ps315Action::XD, has_d = a != Ps315Action::XZ;
        if (type == 1) a = has_d ? Ps315Action::D : Ps315Action::Z;
        else if (type == 2) a = has_z ? Ps315Action::Z : Ps315Action::D;
        else a = has_x ? Ps315Action::X : Ps315Action::Z;
    }
    switch (a) {
        case Ps315Action::None:
        case Ps315Action::X:
            return {Act::Remove};
        case Ps315Action::Z:
            return {Act::Empty};
        case Ps315Action::D:
            if (vc == VrClass::Sequence) return {Act::Recurse, mode};
            if (vc == VrClass::Uid) return {Act::Remap};
            return {Act::Dummy};
        case Ps315Action::K:
            if (vc == VrClass::Sequence) return {Act::Recurse, mode};
            return {Act::Keep};
        case Ps315Action::C:
            switch (vc) {
                case VrClass::Sequence: return {Act::Recurse, mode == Mode::ContentTree ? mode : Mode::Clean};
                case VrClass::Date:
                case VrClass::DateTime:
                    return p_.retain_long_modified_dates ? Decision{Act::Shift} : Decision{Act::Remove};
                case VrClass::Time: return {Act::Keep};  // whole-day shifts leave the time of day
                case VrClass::Text: return {Act::Clean};
                case VrClass::PersonName: return {Act::Dummy};
                case VrClass::Uid: return {Act::Remap};
                case VrClass::Ae: return {Act::Dummy};
                case VrClass::Age: return {Act::Keep};
                default: return {Act::Keep};
            }
        case Ps315Action::U:
            if (vc == VrClass::Uid) return {Act::Remap};
            if (vc == VrClass::Sequence) return {Act::Recurse, mode};
            return {Act::Remove};
        case Ps315Action::XZU:
            // Sequences of references: kept, with the contained instance UIDs replaced (U).
            if (vc == VrClass::Sequence) return {Act::Recurse, mode};
            if (vc == VrClass::Uid) return {Act::Remap};
            return {Act::Remove};
        default:
            return {Act::Remove};
    }
}

bool is_repeating_graphics_group(std::uint16_t g) {
    const std::uint16_t base = g & 0xFF00;
    return (base == 0x5000 || base == 0x6000) && (g & 0x00FF) <= 0x1E && (g & 1) == 0;
}

Decision Engine::decide(DcmElement* el, Mode mode, int depth, const std::map<std::uint32_t, std::string>& creators,
                        std::set<std::uint32_t>& used_blocks) {
    const DcmTagKey tag = el->getTag();
    const std::uint16_t g = tag.getGroup(), e = tag.getElement();
    const VrClass vc = classify(el);

    if (e == 0x0000) return {Act::Remove};  // group lengths: recomputed on write when needed
    if (depth == 0) {
        if (tag == DCM_SpecificCharacterSet) return {Act::Keep};
        if (tag == DCM_PatientIdentityRemoved || tag == DCM_DeidentificationMethod ||
            tag == DCM_DeidentificationMethodCodeSequence || tag == DCM_LongitudinalTemporalInformationModified)
            return {Act::Remove};  // written again at the end
    }

    const bool is_private = (g & 1) != 0;
    const std::uint32_t block = is_private ? key(g, e >> 8) : 0;

    // Site rules first: they override the table for the attributes they name, at every depth.
    for (const config::Rule& r : p_.rules) {
        if (r.group != g || r.element != e) continue;
        if (!r.when.empty() && !matches(r.when, facts_)) continue;
        if (is_private && e > 0x00FF && r.action != "remove") used_blocks.insert(block);
        if (r.action == "keep") return Decision::by_rule(vc == VrClass::Sequence ? Decision{Act::Recurse, mode} : Decision{Act::Keep});
        if (r.action == "remove") return {Act::Remove};
        if (r.action == "empty") return {Act::Empty};
        if (r.action == "replace") return {Act::Replace, mode, r.value};
        if (r.action == "hash") {
            if (vc == VrClass::Sequence || vc == VrClass::Safe || vc == VrClass::Unknown) return {Act::Remove};
            return {Act::Hash};
        }
        if (r.action == "shift_date")
            return (vc == VrClass::Date || vc == VrClass::DateTime) ? Decision{Act::Shift} : Decision{Act::Remove};
        return {Act::Remove};
    }

    if (is_private) {
        if (g <= 0x0007 || g == 0xFFFF) return {Act::Remove};  // not usable as private groups
        if (e >= 0x0010 && e <= 0x00FF) return {Act::Keep};   // creator: removed later if nothing of its block stays
        if (e < 0x0010) return {Act::Remove};
        auto c = creators.find(block);
        const Ps315Action a = resolve(ps315_private_row());  // C with retain_safe_private, else X
        if (a == Ps315Action::C && c != creators.end() && is_safe_private(g, e & 0xFF, c->second)) {
            used_blocks.insert(block);
            return vc == VrClass::Sequence ? Decision{Act::Recurse, mode} : Decision{Act::Keep};
        }
        return {Act::Remove};
    }

    if (tag == DCM_PatientName) {
        if (mode == Mode::Normal || patient_name_.empty() || trim(element_value(el)) == patient_name_)
            return {Act::Pseudonym};
        return {Act::Dummy};
    }
    if (tag == DCM_PatientID) return {Act::Pseudonym};

    if (const Ps315Row* row = find_ps315_row(g, e)) {
        const Ps315Action a = resolve(*row);
        if (tag == DCM_GraphicAnnotationSequence)
            return a == Ps315Action::C ? Decision{Act::Recurse, Mode::Graphics} : Decision{Act::Remove};
        if (tag == DCM_ContentSequence) return {Act::Recurse, Mode::ContentTree};
        if (is_repeating_graphics_group(g)) {
            if (a != Ps315Action::C) return {Act::Remove};
            return (vc == VrClass::Text) ? Decision{Act::Clean} : Decision{Act::Keep};
        }
        if (tag == DCM_PersonName && mode == Mode::ContentTree && !patient_name_.empty() &&
            trim(element_value(el)) == patient_name_)
            return {Act::Pseudonym};
        return by_action(a, el, mode);
    }

    // Not in Table E.1-1: the allow-list.
    if (is_repeating_graphics_group(g)) {
        // Overlay and curve attributes go with their data: all removed, or kept (text cleaned).
        if (!p_.clean_graphics) return {Act::Remove};
        if (vc == VrClass::Text) return {Act::Clean};
        if (vc == VrClass::Safe || vc == VrClass::Sequence) return vc == VrClass::Sequence ? Decision{Act::Recurse, Mode::Graphics} : Decision{Act::Keep};
        return {Act::Remove};
    }
    switch (vc) {
        case VrClass::Sequence: return {Act::Recurse, mode};
        case VrClass::Safe: return {Act::Keep};
        case VrClass::Uid:
            if (p_.retain_uids) return {Act::Keep};
            // Class, scheme and creator UIDs: kept when registered (DICOM's own, HL7's coding
            // systems); a private one may embed an id or a date, so it is remapped like any other.
            if (is_class_uid_attribute(g, e)) return registered_uids(el) ? Decision{Act::Keep} : Decision{Act::Remap};
            return {Act::Remap};  // well-known DICOM UIDs (1.2.840.10008.*) are left alone in remap()
        case VrClass::Unknown: return {Act::Remove};
        default: break;
    }
    if (is_safe_text_attribute(g, e)) return {Act::Keep};
    if (is_type2_text_attribute(g, e)) return p_.clean_descriptors ? Decision{Act::Clean} : Decision{Act::Empty};
    if (tag == DCM_UnformattedTextValue && mode == Mode::Normal) {
        // Waveform and other annotations: Type 1C text, cleaned or replaced rather than removed.
        return (p_.clean_descriptors || p_.clean_structured_content) ? Decision{Act::Clean} : Decision{Act::Dummy};
    }
    if (mode != Mode::Normal) {
        if (vc == VrClass::Text) {
            if (mode == Mode::ContentTree && !p_.clean_structured_content) return {Act::Dummy};
            return {Act::Clean};
        }
        if (vc == VrClass::PersonName) return {Act::Dummy};
        if ((vc == VrClass::Date || vc == VrClass::DateTime) && p_.retain_long_modified_dates) return {Act::Shift};
        if ((vc == VrClass::Date || vc == VrClass::DateTime || vc == VrClass::Time) && p_.retain_long_full_dates)
            return {Act::Keep};
    }
    return {Act::Remove};
}

// Every value a UID registered by DICOM or an HL7 coding system UID (2.16.840.1.113883.6.*).
bool registered_uids(DcmElement* el) {
    for (const std::string& raw : split_values(element_value(el))) {
        const std::string v = trim(raw);
        if (v.empty() || v.rfind("1.2.840.10008.", 0) == 0 || v.rfind("2.16.840.1.113883.6.", 0) == 0) continue;
        return false;
    }
    return true;
}

// A coded string kept by the profile (Image Type, Body Part Examined, ...). A value that is a
// defined term of its attribute (deid/Vocabulary.h) is kept as it is; any other value is dropped
// when it holds one of the patient's names or an id of the instance (3 characters or more,
// between separators);
// the rest stay in order. Codes are short and enumerated, so nothing else (patterns, dates) is
// searched there: MR, SR, TEXT or PNAME stay what they are.
void Engine::check_coded(DcmElement* el) {
    const std::string before = element_value(el);
    if (before.empty()) return;
    const DcmTagKey tag = el->getTag();
    std::vector<std::string> kept;
    bool changed = false;
    for (const std::string& raw : split_values(before)) {
        const std::string value = trim(raw);
        if (is_defined_term(tag.getGroup(), tag.getElement(), value)) {
            kept.push_back(raw);
            continue;
        }
        const FoldedText folded(value);
        bool holds = false;
        for (const TextCleaner::Term& t : cleaner_->terms()) {
            if (t.folded.size() < 3 || (t.kind != TextCleaner::TermKind::PatientName && t.kind != TextCleaner::TermKind::Id))
                continue;
            if (folded.contains(t.folded, true)) {
                holds = true;
                break;
            }
        }
        if (holds) changed = true;
        else kept.push_back(raw);
    }
    if (!changed) return;
    el->putString(join_values(kept).c_str());
    ++report_.cleaned;
}

bool Engine::binary_holds_identifier(DcmElement* el) {
    Uint8* p = nullptr;
    if (el->getLength() == 0 || el->getUint8Array(p).bad() || !p) return false;
    std::string bytes(reinterpret_cast<const char*>(p), el->getLength());
    for (char& c : bytes)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    for (const TextCleaner::Term& t : cleaner_->terms()) {
        if (t.folded.size() < 5 || (t.kind != TextCleaner::TermKind::Name && t.kind != TextCleaner::TermKind::PatientName &&
                                    t.kind != TextCleaner::TermKind::Id))
            continue;
        if (bytes.find(t.folded) != std::string::npos) return true;
    }
    return false;
}

// AS values over 89 years (nnnY, or the same age in months, weeks or days) become 090Y.
void Engine::aggregate_age(DcmElement* el) {
    const std::string v = trim(element_value(el));
    if (v.size() != 4 || !std::isdigit(static_cast<unsigned char>(v[0]))) return;
    if (!age_over_89(v) || v == "090Y") return;
    el->putString("090Y");
    ++report_.replaced;
}

void Engine::remap(DcmElement* el) {
    Pending pending{Pending::Uid, el, {}, split_values(element_value(el))};
    bool any = false;
    for (const std::string& raw : pending.values) {
        const std::string v = trim(raw);
        if (v.empty() || v.rfind("1.2.840.10008.", 0) == 0) {
            pending.indexes.push_back(static_cast<std::size_t>(-1));  // well-known: unchanged
            continue;
        }
        auto it = uid_index_.find(v);
        if (it == uid_index_.end()) {
            it = uid_index_.emplace(v, request_.uids.size()).first;
            request_.uids.push_back(v);
        }
        pending.indexes.push_back(it->second);
        any = true;
    }
    if (any) pending_.push_back(std::move(pending));
}

void Engine::perform(DcmItem& item, DcmElement* el, const Decision& d) {
    switch (d.act) {
        case Act::Keep:
            if (d.rule) break;
            // No class is trusted blindly: kept text still loses the patient's names, ids and
            // what the high-precision patterns find; coded strings lose a value that holds them;
            // ages over 89 are aggregated.
            // (Private creators are not: one may be removed below when its block goes, and it
            // names a vendor's dictionary.)
            if (classify(el) == VrClass::Text) {
                const DcmTagKey t = el->getTag();
                const bool creator = (t.getGroup() & 1) && t.getElement() >= 0x0010 && t.getElement() <= 0x00FF;
                if (!creator) pending_.push_back({Pending::CleanKept, el, {}, {}});
            }
            else if ((el->getTag().getGroup() & 1) && (el->ident() == EVR_OB || el->ident() == EVR_OW || el->ident() == EVR_UN) &&
                     binary_holds_identifier(el)) {
                // A kept private blob is scanned whole; one that holds a name or id goes.
                delete item.remove(el);
                ++report_.removed;
                return;
            }
            else if (el->ident() == EVR_CS) check_coded(el);
            else if (el->ident() == EVR_AS && !p_.keep_ages_over_89) aggregate_age(el);
            break;
        case Act::Remove:
            delete item.remove(el);
            ++report_.removed;
            return;
        case Act::Empty:
            el->clear();
            ++report_.replaced;
            break;
        case Act::Dummy:
            if (classify(el) == VrClass::Uid) remap(el);
            else if (classify(el) == VrClass::Safe && el->ident() != EVR_CS && el->ident() != EVR_IS &&
                     el->ident() != EVR_DS) el->clear();
            else el->putString(dummy_for(el));
            ++report_.replaced;
            break;
        case Act::Clean:
            // After the broker's answer: dates in the text are shifted by the patient's offset.
            pending_.push_back({Pending::Clean, el, {}, {}});
            break;
        case Act::Remap:
            remap(el);
            break;
        case Act::Shift:
            pending_.push_back({Pending::Shift, el, {}, {}});
            break;
        case Act::Pseudonym:
            pending_.push_back({Pending::Pseudonym, el, {}, {}});
            break;
        case Act::Hash:
            pending_.push_back({Pending::Hash, el, {request_.hashes.size()}, {}});
            request_.hashes.push_back(element_value(el));
            break;
        case Act::Replace:
            el->putString(fit(d.value, el).c_str());
            ++report_.replaced;
            break;
        case Act::Recurse: {
            auto* seq = static_cast<DcmSequenceOfItems*>(el);
            for (unsigned long i = 0; i < seq->card(); ++i) process_item(*seq->getItem(i), d.mode, 1);
            break;
        }
    }
}

void Engine::process_item(DcmItem& item, Mode mode, int depth) {
    std::map<std::uint32_t, std::string> creators;
    // nextInContainer, not getElement(i): DcmList::seek_to walks from the first element every time.
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        DcmElement* el = static_cast<DcmElement*>(o);
        const DcmTagKey t = el->getTag();
        if ((t.getGroup() & 1) && t.getElement() >= 0x0010 && t.getElement() <= 0x00FF)
            creators[key(t.getGroup(), t.getElement())] = trim(element_value(el));
    }
    std::set<std::uint32_t> used_blocks;
    // nextInContainer, not getElement(i) (a walk from the first element each time); the next
    // element is taken before this one may be removed.
    for (DcmObject* o = item.nextInContainer(nullptr); o;) {
        DcmObject* next = item.nextInContainer(o);
        DcmElement* el = static_cast<DcmElement*>(o);
        perform(item, el, decide(el, mode, depth, creators, used_blocks));
        o = next;
    }
    for (const auto& c : creators) {
        if (used_blocks.count(c.first)) continue;
        DcmTagKey creator_tag(static_cast<Uint16>(c.first >> 16), static_cast<Uint16>(c.first & 0xFFFF));
        if (item.findAndDeleteElement(creator_tag).good()) ++report_.removed;
    }
}

void Engine::scan_identifiers(DcmItem& item) {
    // The value as decoded, then its other readings (an undeclared character set).
    auto readings_of = [&](DcmElement* el) {
        std::vector<std::string> r;
        r.push_back(element_value(el));
        auto it = readings_.find(el);
        if (it != readings_.end()) r.insert(r.end(), it->second.begin(), it->second.end());
        return r;
    };
    // Sorted, for a binary search per element.
    static constexpr std::uint32_t ids_unsorted[] = {
        key(0x0010, 0x0020), key(0x0010, 0x1000), key(0x0008, 0x0050), key(0x0020, 0x0010), key(0x0010, 0x1090),
        key(0x0040, 0x2016), key(0x0040, 0x2017), key(0x0040, 0x1001), key(0x0040, 0x0009), key(0x0040, 0x0253),
        key(0x0018, 0x1000), key(0x0038, 0x0010), key(0x0010, 0x2154), key(0x0008, 0x0092), key(0x0008, 0x0094),
        key(0x0040, 0x1101), key(0x0010, 0x1002)};
    static constexpr std::uint32_t phrases_unsorted[] = {
        key(0x0008, 0x0080), key(0x0008, 0x0081), key(0x0008, 0x1040), key(0x0008, 0x1010), key(0x0010, 0x1040),
        key(0x0010, 0x2152), key(0x0040, 0x0242), key(0x0040, 0x0010), key(0x0032, 0x1020), key(0x0040, 0x0243)};
    static const std::vector<std::uint32_t> ids = sorted(ids_unsorted);
    static const std::vector<std::uint32_t> phrases = sorted(phrases_unsorted);
    auto in = [](const std::vector<std::uint32_t>& v, std::uint32_t k) { return std::binary_search(v.begin(), v.end(), k); };
    // nextInContainer, not getElement(i): DcmList::seek_to walks from the first element every time.
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        DcmElement* el = static_cast<DcmElement*>(o);
        const DcmTagKey t = el->getTag();
        const std::uint32_t k = key(t.getGroup(), t.getElement());
        switch (classify(el)) {
            case VrClass::Sequence: {
                auto* seq = static_cast<DcmSequenceOfItems*>(el);
                for (unsigned long j = 0; j < seq->card(); ++j) scan_identifiers(*seq->getItem(j));
                continue;
            }
            case VrClass::PersonName: {
                const bool patient = t == DCM_PatientName || t == DCM_OtherPatientNames || t == DCM_PatientBirthName ||
                                     t == DCM_PatientMotherBirthName;
                for (const std::string& reading : readings_of(el))
                    for (const std::string& v : split_values(reading))
                        cleaner_inputs_.push_back({patient ? CleanerInput::Kind::PatientName : CleanerInput::Kind::PersonName, v});
                continue;
            }
            case VrClass::Date:
            case VrClass::DateTime:
                for (const std::string& v : split_values(element_value(el)))
                    cleaner_inputs_.push_back({CleanerInput::Kind::Date, trim(v).substr(0, 8)});
                continue;
            default:
                break;
        }
        if (t.getGroup() & 1) continue;
        // What an option keeps on purpose is not removed from other text either.
        if (p_.retain_device_identity && (k == key(0x0018, 0x1000) || k == key(0x0008, 0x1010))) continue;
        if (p_.retain_institution_identity && (k == key(0x0008, 0x0080) || k == key(0x0008, 0x0081) || k == key(0x0008, 0x1040)))
            continue;
        if (in(ids, k))
            for (const std::string& reading : readings_of(el))
                for (const std::string& v : split_values(reading)) cleaner_inputs_.push_back({CleanerInput::Kind::Identifier, v});
        if (in(phrases, k))
            for (const std::string& reading : readings_of(el))
                for (const std::string& v : split_values(reading)) cleaner_inputs_.push_back({CleanerInput::Kind::Phrase, v});
    }
}

void Engine::finish(const PseudonymReply& reply) {
    if (reply.uids.size() != request_.uids.size() || reply.hashes.size() != request_.hashes.size() ||
        reply.pseudonym.empty())
        throw PseudonymUnavailable("pseudonym source gave an incomplete answer");
    if (p_.retain_long_modified_dates) cleaner_->set_date_shift(reply.date_offset_days);
    else cleaner_->clear_date_shift();
    for (const Pending& p : pending_) {
        switch (p.kind) {
            case Pending::Uid: {
                // The values remap() read (nothing changes a UI value in between).
                std::vector<std::string> values = p.values;
                for (std::size_t i = 0; i < values.size() && i < p.indexes.size(); ++i) {
                    if (p.indexes[i] == static_cast<std::size_t>(-1)) continue;
                    values[i] = reply.uids[p.indexes[i]];
                    ++report_.uids_replaced;
                }
                p.element->putString(join_values(values).c_str());
                break;
            }
            case Pending::Hash:
                p.element->putString(fit(reply.hashes[p.indexes[0]], p.element).c_str());
                ++report_.replaced;
                break;
            case Pending::Pseudonym:
                p.element->putString(fit(reply.pseudonym, p.element).c_str());
                ++report_.replaced;
                break;
            case Pending::Clean:
            case Pending::CleanKept: {
                const std::string before = element_value(p.element);
                const DcmTagKey t = p.element->getTag();
                const TextCleaner::Scope scope = p.kind == Pending::CleanKept ? TextCleaner::Scope::Kept
                                                 : is_descriptor_attribute(t.getGroup(), t.getElement())
                                                     ? TextCleaner::Scope::Descriptor
                                                     : TextCleaner::Scope::Free;
                std::string after = fit(cleaner_->clean(before, scope), p.element);
                // Undeclared character set: a term that another reading of the same bytes shows
                // and this one does not takes the whole value.
                auto other = readings_.find(p.element);
                if (other != readings_.end()) {
                    const std::vector<std::size_t> seen = cleaner_->matched_terms(before);
                    for (const std::string& reading : other->second)
                        for (std::size_t term : cleaner_->matched_terms(reading))
                            if (std::find(seen.begin(), seen.end(), term) == seen.end()) after = TextCleaner::kRemoved;
                }
                if (after != before) p.element->putString(after.c_str());
                if (p.kind == Pending::Clean) ++report_.cleaned;
                break;
            }
            case Pending::Shift: {
                const bool dt = p.element->ident() == EVR_DT;
                std::vector<std::string> values = split_values(element_value(p.element));
                for (std::string& v : values) v = shift_date_value(v, reply.date_offset_days, dt);
                p.element->putString(join_values(values).c_str());
                report_.dates_shifted = true;
                report_.date_offset_days = reply.date_offset_days;
                ++report_.replaced;
                break;
            }
        }
    }
}

void Engine::process_meta() {
    if (!meta_) return;
    // Implementation Class UID / Version Name describe the writer: DCMTK puts its own back on save.
    for (const DcmTagKey& t : {DCM_ImplementationClassUID, DCM_ImplementationVersionName,
                               DCM_SourceApplicationEntityTitle, DCM_SendingApplicationEntityTitle,
                               DCM_ReceivingApplicationEntityTitle, DCM_PrivateInformationCreatorUID,
                               DCM_PrivateInformation})
        if (meta_->findAndDeleteElement(t).good()) ++report_.removed;
}

void Engine::write_method(DeidReport& report) {
    ds_.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
    std::vector<std::string> codes = {"113100"};
    if (p_.clean_recognizable_visual_features && string_value(ds_, DCM_RecognizableVisualFeatures) == "NO")
        codes.push_back("113102");
    if (p_.clean_graphics) codes.push_back("113103");
    if (p_.clean_structured_content) codes.push_back("113104");
    if (p_.clean_descriptors) codes.push_back("113105");
    if (p_.retain_long_full_dates) codes.push_back("113106");
    if (p_.retain_long_modified_dates) codes.push_back("113107");
    if (p_.retain_patient_characteristics) codes.push_back("113108");
    if (p_.retain_device_identity) codes.push_back("113109");
    if (p_.retain_uids) codes.push_back("113110");
    if (p_.retain_safe_private) codes.push_back("113111");
    if (p_.retain_institution_identity) codes.push_back("113112");
    std::string method = std::string("PS3.15 ") + ps315_edition() + " Basic Application Confidentiality Profile";
    ds_.putAndInsertString(DCM_DeidentificationMethod, method.c_str());
    add_method_codes(ds_, codes);
    // (0012,0063) now names the edition and every applied option (add_method_code appends them).
    report.method_codes = codes;
    const char* longitudinal = p_.retain_long_full_dates ? "UNMODIFIED"
                               : report.dates_shifted || p_.retain_long_modified_dates ? "MODIFIED"
                                                                                        : "REMOVED";
    ds_.putAndInsertString(DCM_LongitudinalTemporalInformationModified, longitudinal);
}

DeidReport Engine::run() {
    // The attributes looked up by tag, each set read in one walk of the data set (a search per
    // tag walks the element list every time): before the text is decoded, then after it.
    enum { Modality, SopClass, Manufacturer, Rvf, Charset, NBefore };
    static const DcmTagKey before_tags[NBefore] = {DCM_Modality, DCM_SOPClassUID, DCM_Manufacturer,
                                                   DCM_RecognizableVisualFeatures, DCM_SpecificCharacterSet};
    std::string before[NBefore];
    string_values(ds_, before_tags, NBefore, before);
    facts_.modality = before[Modality];
    facts_.sop_class_uid = before[SopClass];
    facts_.manufacturer = before[Manufacturer];
    static const std::set<std::string> enhanced_classes = {
        "1.2.840.10008.5.1.4.1.1.2.1",  "1.2.840.10008.5.1.4.1.1.2.2",  "1.2.840.10008.5.1.4.1.1.4.1",
        "1.2.840.10008.5.1.4.1.1.4.3",  "1.2.840.10008.5.1.4.1.1.4.4",  "1.2.840.10008.5.1.4.1.1.128.1",
        "1.2.840.10008.5.1.4.1.1.130",  "1.2.840.10008.5.1.4.1.1.6.2",  "1.2.840.10008.5.1.4.1.1.12.1.1",
        "1.2.840.10008.5.1.4.1.1.12.2.1", "1.2.840.10008.5.1.4.1.1.13.1.1", "1.2.840.10008.5.1.4.1.1.13.1.3"};
    enhanced_ = enhanced_classes.count(facts_.sop_class_uid) > 0;
    // Either functional groups sequence at the top level (one walk for both, as tagExists each).
    for (DcmObject* o = ds_.nextInContainer(nullptr); o && !enhanced_; o = ds_.nextInContainer(o)) {
        const DcmTagKey t = o->getTag();
        enhanced_ = t == DCM_SharedFunctionalGroupsSequence || t == DCM_PerFrameFunctionalGroupsSequence;
    }
    if (p_.clean_recognizable_visual_features && before[Rvf] == "YES") report_.refusal = "recognizable-visual-features";

    // Decode text with the instance's Specific Character Set; re-encoded at the end.
    const std::string charset = before[Charset];
    bool converted = false;
    if (charset.empty() || charset == "ISO_IR 6") {
        // Nothing declared: non-ASCII text is UTF-8 when it is valid UTF-8, else ISO 8859-1; the
        // output says ISO_IR 192 then.
        if (to_utf8(ds_, charset, false, &readings_)) ds_.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    } else if (charset != "ISO_IR 192") {
        // DCMTK (iconv) first; the ISO 2022 sets it cannot convert (IR 87, IR 159) through ICU.
        const bool dcmtk_cannot = charset.find("IR 87") != std::string::npos || charset.find("IR 159") != std::string::npos;
        converted = !dcmtk_cannot && ds_.convertToUTF8().good();
        if (!converted && dcmtk_cannot && to_utf8(ds_, charset, true))
            ds_.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    }

    enum { PatientId, Issuer, SopInstance, Name, NDecoded };
    static const DcmTagKey decoded_tags[NDecoded] = {DCM_PatientID, DCM_IssuerOfPatientID, DCM_SOPInstanceUID,
                                                     DCM_PatientName};
    std::string decoded[NDecoded];
    string_values(ds_, decoded_tags, NDecoded, decoded);
    request_.patient_id = std::move(decoded[PatientId]);
    request_.issuer = std::move(decoded[Issuer]);
    if (request_.issuer.empty()) request_.issuer = p_.default_issuer;
    request_.instance_uid = std::move(decoded[SopInstance]);  // the broker records new patients only for an instance
    patient_name_ = std::move(decoded[Name]);
    scan_identifiers(ds_);
    cleaner_ = cleaner_for(cleaner_inputs_);

    process_item(ds_, Mode::Normal, 0);
    process_meta();

    const PseudonymReply reply = source_.resolve(request_);
    finish(reply);

    write_method(report_);

    if (converted && charset.find('\\') == std::string::npos && charset.rfind("ISO 2022", 0) != 0) {
        // Back to the original character set; tried on a copy first so a value that the original
        // set cannot hold (e.g. from a replace rule) leaves the whole dataset in UTF-8 instead.
        std::unique_ptr<DcmItem> trial(static_cast<DcmItem*>(ds_.clone()));
        if (trial->convertCharacterSet("ISO_IR 192", charset.c_str(), 0, OFTrue).good())
            ds_.convertCharacterSet("ISO_IR 192", charset.c_str(), 0, OFTrue);
    }

    // UI and CS values are in the default repertoire: the character set conversion leaves them.
    enum { Class, Instance, Study, Series, Mod, NAfter };
    static const DcmTagKey after_tags[NAfter] = {DCM_SOPClassUID, DCM_SOPInstanceUID, DCM_StudyInstanceUID,
                                                 DCM_SeriesInstanceUID, DCM_Modality};
    std::string after[NAfter];
    string_values(ds_, after_tags, NAfter, after);
    if (meta_) {
        if (!after[Instance].empty()) meta_->putAndInsertString(DCM_MediaStorageSOPInstanceUID, after[Instance].c_str());
        // remapped when it was a private class
        if (!after[Class].empty()) meta_->putAndInsertString(DCM_MediaStorageSOPClassUID, after[Class].c_str());
    }
    report_.sop_class_uid = std::move(after[Class]);
    report_.sop_instance_uid = std::move(after[Instance]);
    report_.study_instance_uid = std::move(after[Study]);
    report_.series_instance_uid = std::move(after[Series]);
    report_.modality = std::move(after[Mod]);
    return report_;
}

}  // namespace

DeidReport apply(const Profile& profile, DcmFileFormat& file, PseudonymSource& source) {
    Engine engine(profile, *file.getDataset(), file.getMetaInfo(), source);
    return engine.run();
}

DeidReport apply(const Profile& profile, DcmDataset& dataset, PseudonymSource& source) {
    Engine engine(profile, dataset, nullptr, source);
    return engine.run();
}

const char* method_code_meaning(const std::string& code) {
    for (const MethodCode& m : kMethodCodes)
        if (code == m.value) return m.meaning;
    return "";
}

void add_method_code(DcmItem& dataset, const std::string& code) { add_method_codes(dataset, {code}); }

void add_method_codes(DcmItem& dataset, const std::vector<std::string>& codes) {
    // The sequence and the method text in one walk of the data set (findAndGetSequence, reading
    // the text and writing it back with putAndInsertString would each walk it from its first
    // element: about 50k instructions for the pixel cleaner's one code on a CT of 150 elements).
    DcmSequenceOfItems* seq = nullptr;
    DcmElement* method_element = nullptr;
    for (DcmObject* o = dataset.nextInContainer(nullptr); o; o = dataset.nextInContainer(o)) {
        const DcmTagKey t = o->getTag();
        if (t == DCM_DeidentificationMethodCodeSequence && o->ident() == EVR_SQ) seq = static_cast<DcmSequenceOfItems*>(o);
        else if (t == DCM_DeidentificationMethod && o->isLeaf()) method_element = static_cast<DcmElement*>(o);
    }
    // The values as stored (getString), trimmed: getOFStringArray normalises the whole value
    // again on every read (about 14k instructions for the method text).
    auto stored = [](DcmElement* e) {
        char* p = nullptr;
        return e && e->getString(p).good() && p ? trim(p) : std::string();
    };
    std::set<std::string> present;
    if (seq)
        for (unsigned long i = 0; i < seq->card(); ++i) {
            DcmElement* code = nullptr;
            present.insert(seq->getItem(i)->findAndGetElement(DCM_CodeValue, code).good() ? stored(code) : std::string());
        }
    std::string method = stored(method_element);
    const std::string method_before = method;
    for (const std::string& code : codes) {
        const char* meaning = method_code_meaning(code);
        if (!*meaning) throw std::invalid_argument("not a CID 7050 code: " + code);
        if (!present.insert(code).second) continue;  // already there: nothing to do
        if (!seq) {  // the sequence once, then an item appended per code
            seq = new DcmSequenceOfItems(DCM_DeidentificationMethodCodeSequence);
            if (dataset.insert(seq, true).bad()) {
                delete seq;
                seq = nullptr;
            }
        }
        if (seq) {
            auto* item = new DcmItem();
            // Tags with their VR: no dictionary look-up per element.
            item->putAndInsertString(DcmTag(DCM_CodeValue, EVR_SH), code.c_str());
            item->putAndInsertString(DcmTag(DCM_CodingSchemeDesignator, EVR_SH), "DCM");
            item->putAndInsertString(DcmTag(DCM_CodeMeaning, EVR_LO), meaning);
            if (seq->append(item).bad()) delete item;
        }
        const std::string option = meaning;
        if (code != "113100" && method.find(option) == std::string::npos)
            method = method.empty() ? option : method + "\\" + option;
    }
    if (method == method_before) return;
    if (!method_element || method_element->putString(method.c_str()).bad())
        dataset.putAndInsertString(DCM_DeidentificationMethod, method.c_str());
}

}  // namespace deid
