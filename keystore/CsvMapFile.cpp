#include "keystore/CsvMapFile.h"

#include <map>
#include <sstream>

namespace keystore {

namespace {

enum class Section { none, patients, issuer_patients, uids };

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

bool valid_text(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f || c == '\\') return false;
    return true;
}

std::string at(int line) { return "line " + std::to_string(line) + ": "; }

}  // namespace

bool CsvMapFile::valid_uid(const std::string& uid) {
    if (uid.empty() || uid.size() > 64) return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = uid.find('.', start);
        const std::string part = uid.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (part.empty() || (part.size() > 1 && part[0] == '0')) return false;
        for (char c : part)
            if (c < '0' || c > '9') return false;
        if (dot == std::string::npos) return true;
        start = dot + 1;
    }
}

bool CsvMapFile::split(const std::string& record, std::vector<std::string>& fields) {
    fields.clear();
    std::string field;
    bool quoted = false, was_quoted = false;
    for (std::size_t i = 0; i < record.size(); ++i) {
        const char c = record[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < record.size() && record[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
        } else if (c == '"' && trim(field).empty()) {
            field.clear();
            quoted = was_quoted = true;
        } else if (c == ',') {
            fields.push_back(was_quoted ? field : trim(field));
            field.clear();
            was_quoted = false;
        } else if (!(was_quoted && (c == ' ' || c == '\t' || c == '\r'))) {
            field += c;
        }
    }
    if (quoted) return false;
    fields.push_back(was_quoted ? field : trim(field));
    return true;
}

std::string CsvMapFile::line(const std::vector<std::string>& fields) {
    std::string out;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ',';
        const std::string& f = fields[i];
        const bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                           (!f.empty() && (f.front() == ' ' || f.back() == ' ' || f.front() == '#'));
        if (!quote) {
            out += f;
            continue;
        }
        out += '"';
        for (char c : f) {
            if (c == '"') out += '"';
            out += c;
        }
        out += '"';
    }
    return out;
}

CsvMap CsvMapFile::parse(const std::string& text, const std::string& default_issuer) {
    CsvMap map;
    Section section = Section::none;
    std::map<std::pair<std::string, std::string>, int> seen_patients;
    std::map<std::string, int> seen_originals, seen_new;
    std::istringstream in(text);
    std::string raw;
    int line_no = 0;
    std::vector<std::string> f;
    while (std::getline(in, raw)) {
        ++line_no;
        const std::string record = trim(raw);
        if (record.empty() || record[0] == '#') continue;
        if (!split(record, f)) {
            map.errors.push_back(at(line_no) + "unbalanced double quote");
            continue;
        }
        // Header lines.
        if (f[0] == "patient_id" || f[0] == "issuer" || f[0] == "original_uid") {
            if (f == std::vector<std::string>{"patient_id", "pseudonym"} ||
                f == std::vector<std::string>{"patient_id", "pseudonym", "date_offset_days"})
                section = Section::patients;
            else if (f == std::vector<std::string>{"issuer", "patient_id", "pseudonym"} ||
                     f == std::vector<std::string>{"issuer", "patient_id", "pseudonym", "date_offset_days"})
                section = Section::issuer_patients;
            else if (f == std::vector<std::string>{"original_uid", "new_uid"})
                section = Section::uids;
            else {
                map.errors.push_back(at(line_no) +
                                     "unknown header; expected \"patient_id,pseudonym[,date_offset_days]\", "
                                     "\"issuer,patient_id,pseudonym[,date_offset_days]\" or \"original_uid,new_uid\"");
                section = Section::none;
            }
            continue;
        }
        if (section == Section::none) {
            map.errors.push_back(at(line_no) +
                                 "a header line must come first (patient_id,pseudonym[,date_offset_days] | "
                                 "issuer,patient_id,pseudonym[,date_offset_days] | original_uid,new_uid)");
            continue;
        }
        if (section == Section::uids) {
            if (f.size() != 2) {
                map.errors.push_back(at(line_no) + "expected 2 fields (original_uid,new_uid), got " +
                                     std::to_string(f.size()));
                continue;
            }
            CsvUidRow row{line_no, f[0], f[1]};
            bool ok = true;
            if (row.original_uid.empty() || row.original_uid.size() > 1024 || !valid_text(row.original_uid)) {
                map.errors.push_back(at(line_no) + "original_uid: expected a non-empty UID");
                ok = false;
            }
            if (!valid_uid(row.new_uid)) {
                map.errors.push_back(at(line_no) +
                                     "new_uid: expected a valid UID (digits and dots, no leading zeros, at most 64 characters)");
                ok = false;
            }
            if (!ok) continue;
            if (auto it = seen_originals.find(row.original_uid); it != seen_originals.end()) {
                map.errors.push_back(at(line_no) + "original_uid: already listed on line " + std::to_string(it->second));
                continue;
            }
            if (auto it = seen_new.find(row.new_uid); it != seen_new.end()) {
                map.errors.push_back(at(line_no) + "new_uid: already used on line " + std::to_string(it->second));
                continue;
            }
            seen_originals.emplace(row.original_uid, line_no);
            seen_new.emplace(row.new_uid, line_no);
            map.uids.push_back(std::move(row));
            continue;
        }
        const std::size_t base = section == Section::issuer_patients ? 1 : 0;
        if (f.size() < base + 2 || f.size() > base + 3) {
            map.errors.push_back(at(line_no) + "expected " + std::to_string(base + 2) + " or " +
                                 std::to_string(base + 3) + " fields, got " + std::to_string(f.size()));
            continue;
        }
        CsvPatientRow row;
        row.line = line_no;
        row.issuer = base ? f[0] : default_issuer;
        row.patient_id = f[base];
        row.pseudonym = f[base + 1];
        bool ok = true;
        if (!valid_text(row.issuer) || row.issuer.size() > 64) {
            map.errors.push_back(at(line_no) + "issuer: expected at most 64 characters without control characters or backslash");
            ok = false;
        }
        if (row.patient_id.empty() || row.patient_id.size() > 64 || !valid_text(row.patient_id)) {
            map.errors.push_back(at(line_no) +
                                 "patient_id: expected 1..64 characters without control characters or backslash");
            ok = false;
        }
        if (row.pseudonym.empty() || row.pseudonym.size() > 64 || !valid_text(row.pseudonym)) {
            map.errors.push_back(at(line_no) +
                                 "pseudonym: expected 1..64 characters without control characters or backslash");
            ok = false;
        }
        if (f.size() == base + 3 && !f[base + 2].empty()) {
            const std::string& v = f[base + 2];
            std::size_t used = 0;
            long value = 0;
            bool parsed = false;
            try {
                value = std::stol(v, &used);
                parsed = used == v.size();
            } catch (const std::exception&) {
            }
            if (!parsed || value < -36500 || value > -1) {
                map.errors.push_back(at(line_no) + "date_offset_days: expected an integer -36500..-1 (not 0), got \"" +
                                     (v.size() <= 12 ? v : v.substr(0, 12) + "...") + "\"");
                ok = false;
            } else {
                row.date_offset_days = static_cast<int>(value);
            }
        }
        if (!ok) continue;
        const auto key = std::make_pair(row.issuer, row.patient_id);
        if (auto it = seen_patients.find(key); it != seen_patients.end()) {
            map.errors.push_back(at(line_no) + "patient already listed on line " + std::to_string(it->second));
            continue;
        }
        seen_patients.emplace(key, line_no);
        map.patients.push_back(std::move(row));
    }
    return map;
}

}  // namespace keystore
