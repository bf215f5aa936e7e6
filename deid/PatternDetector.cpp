#include "deid/PatternDetector.h"

#include <algorithm>
#include <regex>
#include <unordered_set>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "deid/PhraseVariants.h"
#include "deid/TextNormaliser.h"

namespace deid {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper_ascii(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha_ascii(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// ---- check digits ---------------------------------------------------------------------------

bool nhs_valid(const std::string& d) {  // UK NHS number: mod 11, weights 10..2
    if (d.size() != 10) return false;
    int sum = 0;
    for (int i = 0; i < 9; ++i) sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    return check != 10 && check == d[9] - '0';
}
bool bsn_valid(const std::string& d) {  // Dutch BSN: 11-proof, last weight -1
    if (d.size() != 9) return false;
    int sum = 0;
    for (int i = 0; i < 8; ++i) sum += (d[i] - '0') * (9 - i);
    sum -= d[8] - '0';
    return sum % 11 == 0 && sum != 0;
}
bool steuer_id_valid(const std::string& d) {  // German Steuer-ID: ISO 7064 MOD 11,10
    if (d.size() != 11 || d[0] == '0') return false;
    int product = 10;
    for (int i = 0; i < 10; ++i) {
        int sum = (d[i] - '0' + product) % 10;
        if (sum == 0) sum = 10;
        product = (sum * 2) % 11;
    }
    int check = 11 - product;
    if (check == 10) check = 0;
    return check == d[10] - '0';
}
bool nir_valid(const std::string& d) {  // French NIR: 13 digits + key = 97 - (n mod 97)
    if (d.size() != 15 || (d[0] != '1' && d[0] != '2')) return false;
    unsigned long long n = std::stoull(d.substr(0, 13));
    return static_cast<int>(97 - n % 97) == std::stoi(d.substr(13, 2));
}
bool luhn_valid(const std::string& d) {
    int sum = 0;
    bool twice = false;
    for (std::size_t i = d.size(); i-- > 0;) {
        int v = d[i] - '0';
        if (twice) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
        twice = !twice;
    }
    return sum % 10 == 0;
}

// ---- digit runs: groups of digits joined by single separators ------------------------------

struct DigitRun {
    std::size_t begin, end;
    std::string digits;
    std::vector<std::size_t> groups;  // group lengths
    std::string seps;                 // the separator before each group after the first
    bool plus = false;                // starts with '+'
    bool paren = false;               // a group in parentheses
};

std::vector<DigitRun> digit_runs(const std::string& s) {
    std::vector<DigitRun> out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (!is_digit(s[i]) && !((s[i] == '+' || s[i] == '(') && i + 1 < s.size() && is_digit(s[i + 1]))) {
            ++i;
            continue;
        }
        if (i > 0 && (is_alpha_ascii(s[i - 1]) || is_digit(s[i - 1]) || s[i - 1] == '.')) {  // inside a word or decimal
            ++i;  // always forward ('+' or '(' right after a digit)
            while (i < s.size() && (is_digit(s[i]) || is_alpha_ascii(s[i]))) ++i;
            continue;
        }
        DigitRun r{i, i, {}, {}, {}, false, false};
        std::size_t j = i;
        if (s[j] == '+') {
            r.plus = true;
            ++j;
        }
        for (;;) {
            bool open = false;
            if (j < s.size() && s[j] == '(') {
                open = true;
                ++j;
            }
            std::size_t k = j;
            while (k < s.size() && is_digit(s[k])) ++k;
            if (k == j) break;
            r.digits.append(s, j, k - j);
            r.groups.push_back(k - j);
            if (open && k < s.size() && s[k] == ')') {
                r.paren = true;
                ++k;
            }
            r.end = k;
            // A separator and another group?
            std::size_t m = k;
            std::string sep;
            while (m < s.size() && (s[m] == ' ' || s[m] == '-' || s[m] == '.' || s[m] == '/') && sep.size() < 3) sep += s[m++];
            if (sep.size() > 2 || m >= s.size() || !(is_digit(s[m]) || s[m] == '(')) break;
            if (sep.size() == 2 && sep != " -" && sep != "- " && sep != ". ") break;
            r.seps += sep.empty() ? '\0' : sep.back();
            j = m;
        }
        // Glued to letters on the right ("12345ab"): the id-token rule's business.
        if (r.end < s.size() && is_alpha_ascii(s[r.end])) {
            i = std::max(r.end, i + 1);
            while (i < s.size() && (is_digit(s[i]) || is_alpha_ascii(s[i]))) ++i;
            continue;
        }
        if (!r.digits.empty()) out.push_back(r);
        i = std::max(r.end, i + 1);
    }
    return out;
}

bool seps_all(const DigitRun& r, const std::string& allowed) {
    return std::all_of(r.seps.begin(), r.seps.end(), [&](char c) { return allowed.find(c) != std::string::npos; });
}

// The kind of a digit run, or false.
bool classify_run(const DigitRun& r, PatternKind& kind) {
    const std::size_t n = r.digits.size();
    const bool dotted = r.seps.find('.') != std::string::npos, slashed = r.seps.find('/') != std::string::npos;
    if (slashed) return false;  // dates and fractions: DateText's business
    // National identifiers with check digits (written whole or in groups).
    if (r.groups.size() == 3 && r.groups[0] == 3 && r.groups[1] == 2 && r.groups[2] == 4 && seps_all(r, "- ") &&
        r.digits.compare(0, 3, "000") != 0 && r.digits.compare(0, 3, "666") != 0 && r.digits[0] != '9') {
        kind = PatternKind::NationalId;  // US SSN
        return true;
    }
    if ((n == 10 && nhs_valid(r.digits)) || (n == 9 && bsn_valid(r.digits)) || (n == 11 && steuer_id_valid(r.digits)) ||
        (n == 15 && nir_valid(r.digits))) {
        kind = PatternKind::NationalId;
        return true;
    }
    if (r.groups.size() == 2 && r.groups[0] == 6 && r.groups[1] == 4 && seps_all(r, "-")) {  // Danish CPR, Swedish personnummer
        kind = PatternKind::NationalId;
        return true;
    }
    if (n == 10 && r.groups.size() == 1 && luhn_valid(r.digits) && r.digits.compare(2, 2, "13") < 0 &&
        r.digits[2] <= '1') {
        // A Swedish personnummer written without its dash (YYMMDDNNNN, Luhn) is also a 10-digit
        // phone number shape: removed as an identifier either way.
        kind = PatternKind::NationalId;
        return true;
    }
    // Phone numbers.
    if (r.plus && n >= 8 && n <= 15) {
        kind = PatternKind::Phone;
        return true;
    }
    if (r.groups.size() >= 2 && !dotted) {
        if (n == 10 && (r.paren || (r.groups.size() == 3 && r.groups[0] == 3 && r.groups[1] == 3))) {  // (555) 123-4567
            kind = PatternKind::Phone;
            return true;
        }
        if (r.digits[0] == '0' && n >= 9 && n <= 12) {  // national trunk prefix: 020 7946 0958, 030 1234567, 01 23 45 67 89
            kind = PatternKind::Phone;
            return true;
        }
    }
    if (r.groups.size() >= 3 && dotted && r.digits[0] == '0' && n >= 9 && n <= 12 &&
        std::all_of(r.groups.begin(), r.groups.end(), [](std::size_t g) { return g >= 2; })) {
        kind = PatternKind::Phone;  // 01.23.45.67.89
        return true;
    }
    // Other long numbers written in groups ("123 456 789", "4711-0815-42"): id-like, unless the
    // groups are a date (YYYY-MM-DD, DD-MM-YYYY: DateText's business).
    const bool date_shaped = r.groups.size() == 3 && n == 8 &&
                             ((r.groups[0] == 4 && r.groups[1] == 2) || (r.groups[0] == 2 && r.groups[2] == 4));
    if (r.groups.size() >= 2 && n >= 7 && !dotted && !date_shaped) {
        kind = PatternKind::NationalId;
        return true;
    }
    return false;
}

// ---- words ------------------------------------------------------------------------------------

struct Word {
    std::size_t begin, end;
    std::string folded;
    bool capitalised;  // first letter upper case
    bool all_caps;
    bool cjk;
    char next;         // the ASCII character right after the word (0 at the end)
    bool glued = false;  // a digit right before or after: part of a code ("0B59F7", "T2w"), not a word
};

std::vector<Word> words_of(const std::string& s) {
    std::vector<Word> out;
    out.reserve(16);
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const int32_t n = static_cast<int32_t>(s.size());
    int32_t i = 0;
    while (i < n) {
        int32_t start = i;
        if (p[i] < 0x80 && !is_alpha_ascii(static_cast<char>(p[i]))) {  // ASCII non-letters: no ICU
            ++i;
            continue;
        }
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0 || !u_isalpha(c)) continue;
        Word w{static_cast<std::size_t>(start), 0, {}, u_isupper(c) || u_istitle(c), true, is_cjk(static_cast<std::uint32_t>(c)), 0};
        if (w.cjk) {  // each CJK character its own word
            w.end = static_cast<std::size_t>(i);
            w.all_caps = false;
            w.folded = s.substr(w.begin, w.end - w.begin);
            w.next = i < n && p[i] < 0x80 ? static_cast<char>(p[i]) : 0;
            out.push_back(std::move(w));
            continue;
        }
        bool any_lower = u_islower(c);
        int32_t j = i;
        while (j < n) {
            int32_t k = j;
            UChar32 d;
            U8_NEXT(p, k, n, d);
            if (d < 0 || is_cjk(static_cast<std::uint32_t>(d))) break;
            const int8_t type = u_charType(d);
            const bool mark = type == U_NON_SPACING_MARK || type == U_COMBINING_SPACING_MARK;
            if (!u_isalpha(d) && !mark && d != '\'' && d != 0x2019) break;
            if (u_islower(d)) any_lower = true;
            j = k;
        }
        i = j;
        w.end = static_cast<std::size_t>(j);
        w.all_caps = !any_lower;
        bool ascii = true;
        for (std::size_t k = w.begin; k < w.end && ascii; ++k) ascii = p[k] < 0x80;
        if (ascii) {
            w.folded.reserve(w.end - w.begin);
            for (std::size_t k = w.begin; k < w.end; ++k)
                if (is_alpha_ascii(s[k])) w.folded += static_cast<char>(s[k] | 0x20);
        } else {
            w.folded = fold(s.substr(w.begin, w.end - w.begin));
        }
        w.next = j < n && p[j] < 0x80 ? static_cast<char>(p[j]) : 0;
        w.glued = is_digit(w.next) || (w.begin > 0 && is_digit(s[w.begin - 1]));
        out.push_back(std::move(w));
    }
    return out;
}

const std::unordered_set<std::string>& titles() {
    static const std::unordered_set<std::string> s = {
        "dr", "doctor", "mr", "mrs", "ms", "miss", "mister", "prof", "professor", "sir", "dame", "herr", "frau",
        "hr", "fr", "dott", "dottssa", "dottoressa", "sig", "sigra", "signor", "signora", "sr", "sra", "srta",
        "senor", "senora", "don", "dona", "mme", "mlle", "madame", "monsieur", "dhr", "mevr", "mw", "pan", "pani",
        "dres", "drs", "ing", "mag"};
    return s;
}
// Titles that are also common abbreviations in upper-case DICOM text (MR, MS, DR, SR, FR): only
// with a dot or in mixed-case text.
bool ambiguous_in_caps(const std::string& t) {
    return t == "mr" || t == "ms" || t == "dr" || t == "sr" || t == "fr" || t == "hr" || t == "don" || t == "pan" ||
           t == "sig" || t == "ing" || t == "mag" || t == "sir" || t == "miss" || t == "mw";
}
const std::unordered_set<std::string>& relations() {
    static const std::unordered_set<std::string> s = {
        // English
        "wife", "husband", "son", "daughter", "mother", "father", "brother", "sister", "partner", "spouse",
        "guardian", "gp", "uncle", "aunt", "nephew", "niece", "grandson", "granddaughter", "grandmother",
        "grandfather", "friend", "neighbour", "neighbor", "carer", "caregiver", "kin", "fiance", "fiancee",
        "referred", "referring", "physician", "surgeon", "radiologist", "nurse", "technologist", "attending",
        "consultant", "dictated", "reported", "contact", "emergency",
        // German
        "ehefrau", "ehemann", "gattin", "gatte", "sohn", "tochter", "mutter", "vater", "bruder", "schwester",
        "hausarzt", "hausarztin", "arzt", "arztin", "ehepartner", "lebensgefahrte", "lebensgefahrtin",
        "betreuer", "betreuerin", "angehorige", "angehoriger", "uberweiser",
        // French
        "epouse", "epoux", "mari", "fils", "fille", "mere", "pere", "frere", "soeur", "medecin", "traitant",
        "conjoint", "conjointe", "tuteur",
        // Spanish / Portuguese
        "esposa", "esposo", "marido", "hijo", "hija", "madre", "padre", "hermano", "hermana", "medico",
        "filho", "filha", "mae", "pai", "irmao", "irma",
        // Dutch
        "echtgenote", "echtgenoot", "zoon", "dochter", "moeder", "vader", "broer", "zus", "huisarts",
        // Italian
        "moglie", "marito", "figlio", "figlia", "fratello", "sorella", "curante",
        // Nordic / Polish
        "hustru", "maka", "sonn", "datter", "dotter", "syn", "corka", "zona", "maz", "lekarz",
    };
    return s;
}
bool connector(const std::string& w) {
    static const std::unordered_set<std::string> s = {"is", "of", "by", "von", "van", "der", "den", "de", "la", "le", "du",
                                            "di", "da", "dos", "das", "del", "called", "named", "name", "the", "her",
                                            "his", "y", "und", "and", "et", "e", "ist", "heisst", "est", "es",
                                            // academic degrees between a title and the name: Dr. med., Dr. rer. nat.
                                            "med", "rer", "nat", "phil", "dent", "vet", "jur", "habil", "dipl"};
    return s.count(w) > 0;
}
// Words a name never is, that often follow a title or relation word in clinical text.
bool clinical_or_generic(const std::string& w) {
    static const std::unordered_set<std::string> s = {
        "ct", "mri", "mr", "pet", "us", "xr", "cr", "dx", "nm", "chest", "head", "brain", "abdomen", "pelvis",
        "spine", "neck", "knee", "hip", "shoulder", "cardiac", "heart", "lung", "lungs", "liver", "kidney",
        "contrast", "axial", "sagittal", "coronal", "scan", "study", "series", "exam", "image", "images", "report",
        "protocol", "request", "order", "present", "notified", "informed", "aware", "called", "at", "on", "in",
        "to", "for", "with", "without", "and", "or", "not", "no", "yes", "patient", "pt", "history", "follow",
        "followup", "up", "the", "a", "an", "this", "that", "today", "yesterday", "tomorrow", "am", "pm", "via",
        "phone", "tel", "telephone", "office", "clinic", "hospital", "ward", "unit", "department", "team",
    };
    return s.count(w) > 0 || is_generic_word(w) || titles().count(w) > 0 || relations().count(w) > 0;
}

// True when an ASCII text has a word (as words_of reads it: a letter, then letters and
// apostrophes; folded to lower-case letters) that is a title or a relation word.
bool has_title_or_relation_word(const std::string& s) {
    // Both lists in one set: one look-up per word.
    static const std::unordered_set<std::string> either = [] {
        std::unordered_set<std::string> u(titles().begin(), titles().end());
        u.insert(relations().begin(), relations().end());
        return u;
    }();
    std::string word;
    for (std::size_t i = 0; i < s.size();) {
        if (!is_alpha_ascii(s[i])) {
            ++i;
            continue;
        }
        word.clear();
        for (; i < s.size() && (is_alpha_ascii(s[i]) || s[i] == '\''); ++i)
            if (s[i] != '\'') word += static_cast<char>(s[i] | 0x20);
        if (either.count(word)) return true;
    }
    return false;
}

void people_after_titles(const std::string& s, const std::vector<Word>& w, std::vector<PatternMatch>& out) {
    bool mixed_case = false;
    for (const Word& x : w) mixed_case = mixed_case || (!x.all_caps && !x.cjk);
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (w[i].cjk || w[i].glued) continue;
        const bool title = titles().count(w[i].folded) > 0;
        const bool relation = !title && relations().count(w[i].folded) > 0;
        if (!title && !relation) continue;
        // MR, MS, DR, SR, FR in capitals are abbreviations (MR BRAIN, DR CHEST, SR Features)
        // unless a dot follows, in upper-case and in mixed-case text alike.
        if (title && w[i].all_caps && ambiguous_in_caps(w[i].folded) && w[i].next != '.') continue;
        if (title && mixed_case && !w[i].capitalised && w[i].next != '.') continue;  // "dr" inside a word list
        std::size_t k = i + 1;
        while (k < w.size() && k < i + 4 && (connector(w[k].folded) || titles().count(w[k].folded)) &&
               !(w[k].capitalised && mixed_case && !titles().count(w[k].folded) && w[k].folded.size() > 3))
            ++k;
        std::size_t taken = 0, first = k;
        while (k < w.size() && taken < 3) {
            const Word& x = w[k];
            if (x.cjk || x.glued) break;
            const bool name_like = mixed_case ? x.capitalised : true;
            if (!name_like || clinical_or_generic(x.folded) || x.folded.size() < 2) break;
            // Only across blanks, hyphens and apostrophes (not a comma or a full stop).
            if (taken > 0) {
                const std::string between = s.substr(w[k - 1].end, x.begin - w[k - 1].end);
                if (between.find_first_not_of(" -") != std::string::npos) break;
            }
            ++taken;
            ++k;
            if (!mixed_case && taken == 2) break;  // upper-case text: at most two words
        }
        if (taken > 0) out.push_back({w[first].begin, w[first + taken - 1].end, PatternKind::PersonAfterTitle});
    }
    // CJK names before an honorific: 李先生, 山田様, 김철수님.
    static const char* const kHonorifics[] = {"\xE5\x85\x88\xE7\x94\x9F", "\xE5\xA5\xB3\xE5\xA3\xAB", "\xE5\xB0\x8F\xE5\xA7\x90",
                                              "\xE6\xA7\x98", "\xE6\xA8\xA3", "\xE3\x81\x95\xE3\x82\x93", "\xE6\xB0\x8F",
                                              "\xEB\x8B\x98", "\xEC\x94\xA8"};
    for (const char* h : kHonorifics) {
        const std::string hon = h;
        for (std::size_t p = s.find(hon); p != std::string::npos; p = s.find(hon, p + hon.size())) {
            // Up to 3 CJK characters right before it.
            std::size_t b = p;
            int chars = 0;
            while (b > 0 && chars < 3) {
                std::size_t q = b - 1;
                while (q > 0 && (static_cast<unsigned char>(s[q]) & 0xC0) == 0x80) --q;
                const auto* bytes = reinterpret_cast<const uint8_t*>(s.data());
                int32_t at = static_cast<int32_t>(q);
                UChar32 c;
                U8_NEXT(bytes, at, static_cast<int32_t>(s.size()), c);
                if (c < 0 || !is_cjk(static_cast<std::uint32_t>(c))) break;
                b = q;
                ++chars;
            }
            if (chars > 0) out.push_back({b, p, PatternKind::PersonAfterTitle});
        }
    }
}

// ---- addresses and postcodes --------------------------------------------------------------

bool street_type(const std::string& w) {
    static const std::unordered_set<std::string> s = {"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive",
                                            "boulevard", "blvd", "way", "close", "court", "ct", "place", "terrace",
                                            "crescent", "gardens", "square", "row", "grove", "parkway", "pkwy",
                                            "highway", "hwy", "circle", "cir", "walk", "mews"};
    return s.count(w) > 0;
}
bool street_word_prefix(const std::string& w) {  // comes before the name: rue de la Paix, Calle Mayor
    static const std::unordered_set<std::string> s = {"rue", "avenue", "boulevard", "bd", "calle", "avenida", "avda", "via",
                                            "viale", "piazza", "plaza", "rua", "chemin", "impasse", "allee", "paseo",
                                            "carrer", "corso", "largo", "travessa", "ulica", "ul"};
    return s.count(w) > 0;
}
bool street_word_suffix(const std::string& w) {  // glued to the name: Hauptstraße, Kalverstraat
    static const char* const kSuffixes[] = {"strasse", "str", "weg", "gasse", "allee", "platz", "ring", "damm",
                                            "ufer", "laan", "straat", "gracht", "plein", "kade", "singel", "vej",
                                            "gade", "gatan", "gata", "vagen", "veien", "gate", "katu", "tie"};
    for (const char* suf : kSuffixes) {
        const std::string x = suf;
        if (w.size() > x.size() + 2 && w.compare(w.size() - x.size(), x.size(), x) == 0) return true;
    }
    return false;
}

bool house_number(const std::string& s, std::size_t b, std::size_t e) {
    if (e <= b || e - b > 6) return false;
    std::size_t digits = 0;
    for (std::size_t i = b; i < e; ++i) digits += is_digit(s[i]);
    return digits >= 1 && is_digit(s[b]);
}

// A number token right before `at` (skipping blanks and a comma) or right after `at`.
bool number_before(const std::string& s, std::size_t at, std::size_t& begin) {
    std::size_t i = at;
    while (i > 0 && (s[i - 1] == ' ' || s[i - 1] == ',')) --i;
    std::size_t e = i;
    while (i > 0 && (is_digit(s[i - 1]) || (is_alpha_ascii(s[i - 1]) && i == e && i >= 2 && is_digit(s[i - 2])) || s[i - 1] == '-')) --i;
    if (!house_number(s, i, e)) return false;
    begin = i;
    return true;
}
bool number_after(const std::string& s, std::size_t at, std::size_t& end) {
    std::size_t i = at;
    while (i < s.size() && (s[i] == ' ' || s[i] == '.' || s[i] == ',')) ++i;
    std::size_t b = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == b || i - b > 4) return false;
    if (i < s.size() && is_alpha_ascii(s[i]) && (i + 1 >= s.size() || !is_alpha_ascii(s[i + 1]))) ++i;  // 5a
    end = i;
    return true;
}

void addresses(const std::string& s, const std::vector<Word>& w, std::vector<PatternMatch>& out) {
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string& f = w[i].folded;
        std::size_t b = 0, e = 0;
        if (w[i].glued || w[i].cjk) continue;
        if (street_type(f) && i > 0) {
            // 12 Baker Street / 221B Baker St.: a number, then 1-3 words, then the street type.
            std::size_t first = i;
            for (std::size_t k = i; k > 0 && k + 3 > i; --k) {
                if (number_before(s, w[k - 1].begin, b)) {
                    first = k - 1;
                    break;
                }
            }
            if (first < i && number_before(s, w[first].begin, b)) {
                e = w[i].end;
                if (e < s.size() && s[e] == '.') ++e;
                out.push_back({b, e, PatternKind::Address});
            }
        } else if (street_word_suffix(f) || (f == "str" && w[i].next == '.')) {
            if (number_after(s, w[i].end, e)) out.push_back({w[i].begin, e, PatternKind::Address});
        } else if (street_word_prefix(f)) {
            // [12,] rue de la Paix: the prefix and up to 4 words after it (particles included).
            std::size_t k = i + 1, last = i;
            while (k < w.size() && k <= i + 4) {
                const std::string& x = w[k].folded;
                const bool particle = x == "de" || x == "la" || x == "du" || x == "des" || x == "del" || x == "di" ||
                                      x == "della" || x == "dos" || x == "das" || x == "do" || x == "da" || x == "le";
                if (!particle && (!w[k].capitalised || w[k].glued || w[k].folded.size() < 2)) break;
                last = k;
                ++k;
                if (!particle) break;
            }
            if (last == i) continue;
            b = w[i].begin;
            std::size_t nb;
            if (number_before(s, w[i].begin, nb)) b = nb;
            e = w[last].end;
            std::size_t ne;
            if (number_after(s, e, ne) && ne - e <= 6) e = ne;
            // Only with a house number somewhere, or a capitalised name (not "via the portal").
            if (b != w[i].begin || e != w[last].end || w[last].capitalised) out.push_back({b, e, PatternKind::Address});
        }
    }
}

bool upper_run(const std::string& s, std::size_t b, std::size_t n) {
    if (b + n > s.size()) return false;
    for (std::size_t i = b; i < b + n; ++i)
        if (!is_upper_ascii(s[i])) return false;
    return true;
}
bool boundary(const std::string& s, std::size_t i) {  // no letter or digit at s[i]
    return i >= s.size() || !(is_alpha_ascii(s[i]) || is_digit(s[i]));
}

void postcodes(const std::string& s, std::vector<PatternMatch>& out) {
    static const std::unordered_set<std::string> kUnits = {"MB", "KB", "GB", "TB", "HU", "MS", "KV", "MA", "CM", "MM", "HZ", "PX", "BPM", "DPI", "AM", "PM", "MG", "ML", "KG"};
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i > 0 && !boundary(s, i - 1)) continue;
        // UK: A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA
        for (std::size_t letters = 1; letters <= 2; ++letters) {
            if (!upper_run(s, i, letters)) continue;
            std::size_t j = i + letters;
            if (j >= s.size() || !is_digit(s[j])) continue;
            ++j;
            if (j < s.size() && (is_digit(s[j]) || is_upper_ascii(s[j])) && j + 1 < s.size() && (s[j + 1] == ' ' || is_digit(s[j + 1]))) ++j;
            std::size_t k = j;
            if (k < s.size() && s[k] == ' ') ++k;
            if (k + 3 <= s.size() && is_digit(s[k]) && upper_run(s, k + 1, 2) && boundary(s, k + 3) && k > j - 0) {
                out.push_back({i, k + 3, PatternKind::Postcode});
                break;
            }
        }
        // Canada: A9A 9A9
        if (i + 6 <= s.size() && is_upper_ascii(s[i]) && is_digit(s[i + 1]) && is_upper_ascii(s[i + 2])) {
            std::size_t k = i + 3;
            if (k < s.size() && s[k] == ' ') ++k;
            if (k + 3 <= s.size() && is_digit(s[k]) && is_upper_ascii(s[k + 1]) && is_digit(s[k + 2]) && boundary(s, k + 3))
                out.push_back({i, k + 3, PatternKind::Postcode});
        }
        // Netherlands: 1234 AB (not a unit such as 1024 MB)
        if (i + 6 <= s.size() && s[i] >= '1' && s[i] <= '9' && is_digit(s[i + 1]) && is_digit(s[i + 2]) && is_digit(s[i + 3])) {
            std::size_t k = i + 4;
            if (k < s.size() && s[k] == ' ') ++k;
            if (upper_run(s, k, 2) && boundary(s, k + 2) && !kUnits.count(s.substr(k, 2)))
                out.push_back({i, k + 2, PatternKind::Postcode});
        }
        // US ZIP+4: 12345-6789
        if (i + 10 <= s.size() && s[i + 5] == '-' && boundary(s, i + 10)) {
            bool ok = true;
            for (std::size_t k = 0; k < 10 && ok; ++k) ok = k == 5 || is_digit(s[i + k]);
            if (ok) out.push_back({i, i + 10, PatternKind::Postcode});
        }
    }
}

}  // namespace

const char* pattern_name(PatternKind kind) {
    switch (kind) {
        case PatternKind::Email: return "email";
        case PatternKind::Url: return "url";
        case PatternKind::Phone: return "phone";
        case PatternKind::NationalId: return "national_id";
        case PatternKind::Postcode: return "postcode";
        case PatternKind::Address: return "address";
        case PatternKind::PersonAfterTitle: return "person_after_title";
    }
    return "pattern";
}

std::vector<PatternMatch> find_patterns(const std::string& s) {
    std::vector<PatternMatch> out;
    if (s.empty()) return out;
    if (s.find('@') != std::string::npos) {
        static const std::regex email(R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})");
        for (auto it = std::sregex_iterator(s.begin(), s.end(), email); it != std::sregex_iterator(); ++it)
            out.push_back({static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->position() + it->length()), PatternKind::Email});
    }
    if (s.find("://") != std::string::npos || s.find("www.") != std::string::npos || s.find("WWW.") != std::string::npos) {
        static const std::regex url(R"(([A-Za-z][A-Za-z0-9+.\-]*://|[Ww]{3}\.)[^\s<>"]+)");
        for (auto it = std::sregex_iterator(s.begin(), s.end(), url); it != std::sregex_iterator(); ++it)
            out.push_back({static_cast<std::size_t>(it->position()), static_cast<std::size_t>(it->position() + it->length()), PatternKind::Url});
    }
    std::size_t digits = 0;
    for (char c : s) digits += is_digit(c);
    if (digits >= 7)
        for (const DigitRun& r : digit_runs(s)) {
            PatternKind kind;
            if (classify_run(r, kind)) out.push_back({r.begin, r.end, kind});
        }
    // ASCII text without digits: only a person after a title or relation word can be found (the
    // other detectors need digits, the honorifics CJK); without such a word nothing is.
    if (digits == 0 && is_ascii(s) && !has_title_or_relation_word(s)) {
        std::sort(out.begin(), out.end(), [](const PatternMatch& a, const PatternMatch& b) { return a.begin < b.begin; });
        return out;
    }
    const std::vector<Word> words = words_of(s);
    if (digits >= 1) {
        postcodes(s, out);
        addresses(s, words, out);
    }
    people_after_titles(s, words, out);
    std::sort(out.begin(), out.end(), [](const PatternMatch& a, const PatternMatch& b) { return a.begin < b.begin; });
    return out;
}

}  // namespace deid
