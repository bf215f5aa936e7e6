#include "deid/TextCleaner.h"

#include "deid/DcmValues.h"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <regex>

#include "deid/TextNormaliser.h"
#include "deid/DateText.h"
#include "deid/PatternDetector.h"
#include "deid/PhraseVariants.h"
#include "deid/Vocabulary.h"

namespace deid {

namespace {

const char kMarker = '\x01';  // stands for "[removed]" until the end, so terms never match inside it

char fold_char(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(const std::string& s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), fold_char);
    return r;
}

bool word_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u >= 0x80;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t p = s.find(sep); p != std::string::npos; p = s.find(sep, start)) {
        out.emplace_back(s, start, p - start);
        start = p + 1;
    }
    out.emplace_back(s, start, std::string::npos);
    return out;
}

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kMonthNames[] = {"january", "february", "march", "april", "may", "june", "july",
                                   "august", "september", "october", "november", "december"};

void replace_regex(std::string& text, const std::regex& re) {
    text = std::regex_replace(text, re, std::string(1, kMarker));
}

// Id-like tokens: runs of letters, digits, '-' and '_' with 5+ digits, or 4+ digits and a letter.
void replace_id_tokens(std::string& text) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (std::isalnum(c)) {
            std::size_t j = i;
            int digits = 0, letters = 0;
            while (j < text.size()) {
                unsigned char d = static_cast<unsigned char>(text[j]);
                if (std::isdigit(d)) ++digits;
                else if (std::isalpha(d)) ++letters;
                else if (!(d == '-' || d == '_')) break;
                ++j;
            }
            // Only when the token is not glued to a non-ASCII letter.
            bool glued = (j < text.size() && static_cast<unsigned char>(text[j]) >= 0x80) ||
                         (i > 0 && static_cast<unsigned char>(text[i - 1]) >= 0x80);
            if (!glued && (digits >= 5 || (digits >= 4 && letters >= 1))) out += kMarker;
            else out.append(text, i, j - i);
            i = j;
        } else {
            out += text[i++];
        }
    }
    text.swap(out);
}

std::size_t digit_count(const std::string& s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }));
}

// A month's abbreviation anywhere (case-insensitive): what both month patterns start from.
bool mentions_month(const std::string& s) {
    const std::string folded = lower(s);
    return std::any_of(std::begin(kMonths), std::end(kMonths),
                       [&](const char* m) { return folded.find(m) != std::string::npos; });
}

// A digit, then '/', '.' or '-', then a digit: the core of every numeric date.
bool has_digit_separator_digit(const std::string& s) {
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    for (std::size_t i = 1; i + 1 < s.size(); ++i)
        if ((s[i] == '/' || s[i] == '.' || s[i] == '-') && digit(s[i - 1]) && digit(s[i + 1])) return true;
    return false;
}

}  // namespace

void TextCleaner::add_term(const std::string& term, std::size_t min_length, TermKind kind) {
    for (std::string& v : fold_variants(trim(term))) add_folded_term(std::move(v), min_length, kind);
}

void TextCleaner::add_folded_term(std::string t, std::size_t min_length, TermKind kind) {
    if (t.size() < min_length) return;
    // A term in a script that stays as it is (CJK): at least two characters.
    if (static_cast<unsigned char>(t[0]) >= 0x80) {
        std::size_t chars = 0;
        for (char c : t) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        if (chars < 2) return;
    }
    // A CT of the bench adds about 60 terms (its names, ids, two dates): room for twice that, so
    // few instances rehash, without clearing a bucket array of 512 on every instance (the set's
    // buckets are zeroed when made and again when it is destroyed).
    if (terms_.empty()) {
        terms_.reserve(128);
        term_set_.reserve(128);
    }
    if (!term_set_.insert(t).second) return;
    const bool strict = t.size() < 4;
    terms_.push_back(Term{std::move(t), strict, kind});
}

void TextCleaner::add_person_name(const std::string& pn, bool patient) {
    const TermKind kind = patient ? TermKind::PatientName : TermKind::Name;
    for (const std::string& group : split(pn, '=')) {
        std::vector<std::string> c = split(group, '^');
        for (std::string& s : c) s = trim(s);
        std::string family = c.size() > 0 ? c[0] : "", given = c.size() > 1 ? c[1] : "",
                    middle = c.size() > 2 ? c[2] : "";
        // Whole names in the usual written orders first, so "JOHN DOE" becomes one "[removed]".
        // Separators fold away (deid/TextNormaliser.h), so "DOE JOHN" is also the term for
        // "DOE, JOHN", "DOE,JOHN" and "DOE^JOHN", and "DOE, JOHN Q" for "DOE^JOHN^Q".
        if (!family.empty() && !given.empty()) {
            add_term(given + " " + family, 3, kind);
            add_term(family + " " + given, 3, kind);
            if (!middle.empty()) {
                add_term(given + " " + middle + " " + family, 3, kind);
                add_term(family + ", " + given + " " + middle, 3, kind);
            }
        }
        add_term(group, 3, kind);
        // Each name component (and each word of it); initials are too short to matter.
        for (std::size_t i = 0; i < c.size() && i < 3; ++i) {
            add_term(c[i], 2, kind);
            // And each word of it ("MARY ANN", "PANCREAS_0001", "SMITH-JONES"); a component of
            // one word is that word, added just above.
            std::string word;
            for (char ch : c[i] + " ") {
                if (word_char(ch)) word += ch;
                else {
                    if (word != c[i]) add_term(word, 2, kind);
                    word.clear();
                }
            }
        }
    }
}

void TextCleaner::add_identifier(const std::string& id) {
    add_term(id, 3, TermKind::Id);
    // Leading zeros dropped ("0012345" retyped as "12345").
    const std::string t = trim(id);
    const std::size_t nz = t.find_first_not_of('0');
    if (nz != std::string::npos && nz > 0 && t.size() - nz >= 5) add_term(t.substr(nz), 5, TermKind::Id);
}

void TextCleaner::add_phrase(const std::string& phrase) {
    for (const std::string& v : phrase_variants(phrase)) add_term(v, 3, TermKind::Phrase);
    // Each distinctive word on its own, so another word order or a shortened name is found too.
    for (const std::string& w : distinctive_words(phrase)) add_folded_term(w, 4, TermKind::Phrase);
}

void TextCleaner::add_date(const std::string& da) {
    std::string d = trim(da);
    if (d.size() < 8 || !std::all_of(d.begin(), d.begin() + 8, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return;
    // Study, Series and Content Date are usually the same day: its forms are made once.
    if (std::find(dates_.begin(), dates_.end(), d.substr(0, 8)) != dates_.end()) return;
    dates_.push_back(d.substr(0, 8));
    const std::string y = d.substr(0, 4), m = d.substr(4, 2), dd = d.substr(6, 2);
    int mi = std::stoi(m), di = std::stoi(dd);
    if (mi < 1 || mi > 12 || di < 1 || di > 31) return;
    const std::string ms = std::to_string(mi), ds = std::to_string(di), yy = y.substr(2);
    // The usual numeric writings (2022-03-19, 2022/03/19, 03/19/2022, 3/19/22, 19.03.2022,
    // 19/3/2022, 19-03-2022, 19.03.22, ...) fold to their digits, in this order.
    std::string forms[] = {y + m + dd, m + dd + y, ms + ds + y, m + dd + yy, ms + ds + yy, dd + m + y, ds + ms + y, dd + m + yy};
    for (std::string& f : forms) add_folded_term(std::move(f), 6, TermKind::Date);
    // The CJK forms (month names in other languages: the date finder). Its numeric forms are all
    // among the ones above.
    for (std::string& f : date_written_forms(d.substr(0, 8)))
        if (!std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '9'; }))
            add_folded_term(std::move(f), 5, TermKind::Date);
    for (const char* const* names : {kMonths, kMonthNames}) {
        const std::string mon = names[mi - 1];
        for (const std::string* day : {&ds, &dd}) {
            if (day == &dd && dd == ds) continue;  // a day of two digits is written one way
            // Separators fold away: "Mar 19, 2022", "19-Mar-2022" and "19 March 2022" are all here.
            add_folded_term(mon + *day + y, 6, TermKind::Date);
            add_folded_term(*day + mon + y, 6, TermKind::Date);
        }
    }
}

namespace {

const char kKept = '\x02';  // stands for a shifted date until the end, so no pattern removes it

struct Span {
    std::size_t begin, end;
    std::string with;  // empty: the marker
};

// Replaces the spans (overlaps merged) by the marker, or by their replacement text kept aside.
void replace_spans(std::string& text, std::vector<Span>& spans, std::vector<std::string>& kept) {
    if (spans.empty()) return;
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    std::string out;
    std::size_t at = 0;
    for (std::size_t i = 0; i < spans.size();) {
        std::size_t b = spans[i].begin, e = spans[i].end;
        std::string with = spans[i].with;
        for (++i; i < spans.size() && spans[i].begin < e; ++i) {
            e = std::max(e, spans[i].end);
            with.clear();  // overlapping another finding: removed
        }
        if (b < at) b = at;
        if (e <= b) continue;
        out.append(text, at, b - at);
        if (with.empty()) {
            out += kMarker;
        } else {
            out += kKept;
            kept.push_back(with);
        }
        at = e;
    }
    out.append(text, at, std::string::npos);
    text.swap(out);
}

std::string shifted_iso(int y, int m, int d, int days) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d + days;
    tm.tm_hour = 12;
    if (timegm(&tm) == static_cast<time_t>(-1)) return "";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return buf;
}

// One part of a descriptor word (a letter run or a digit run, already split): kept when it is
// digits, one letter, or clinical vocabulary.
bool safe_part(const std::string& part, bool letters) {
    if (part.empty() || !letters) return true;
    std::size_t chars = 0;
    for (char c : part) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (chars == 1) return true;
    const std::string folded = is_ascii(part) ? lower(part) : fold(part);
    if (is_clinical_word(folded)) return true;
    // An English plural of a vocabulary word ("views", "images", "slices").
    return folded.size() > 3 && folded.back() == 's' && is_clinical_word(folded.substr(0, folded.size() - 1));
}

// A code point of the Latin script (ASCII letters, Latin-1 Supplement and Latin Extended letters).
bool latin_letter(std::uint32_t cp) {
    return (cp < 0x80 && std::isalpha(static_cast<int>(cp))) || (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) ||
           (cp >= 0x1E00 && cp <= 0x1EFF);
}

std::uint32_t next_code_point(const std::string& s, std::size_t& i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    return cp;
}

// A word of a descriptor: letters, digits and non-ASCII bytes, with inner ' - . / _ + joining
// ("EPI-BOLD", "3.0T", "CHEST/ABD"). True when every letter run and digit run of it is safe, or
// when it holds a letter outside the Latin script.
bool safe_descriptor_word(const std::string& w) {
    std::string part;
    bool letters = false;
    for (std::size_t i = 0; i < w.size();) {
        const std::size_t at = i;
        const std::uint32_t cp = next_code_point(w, i);
        const bool digit = cp < 0x80 && std::isdigit(static_cast<int>(cp));
        const bool letter = !digit && (cp >= 0x80 || std::isalpha(static_cast<int>(cp)));
        if (letter && !latin_letter(cp)) return true;  // another script: not the vocabulary's
        if (!(digit || letter)) {
            if (!safe_part(part, letters)) return false;
            part.clear();
            continue;
        }
        if (!part.empty() && letter != letters) {
            if (!safe_part(part, letters)) return false;
            part.clear();
        }
        letters = letter;
        part.append(w, at, i - at);
    }
    return safe_part(part, letters);
}

// The descriptor policy on text already cleaned (markers in it): unknown Latin words -> marker.
void apply_descriptor_policy(std::string& text) {
    auto word_byte = [](char c) {
        const unsigned char u = static_cast<unsigned char>(c);
        return std::isalnum(u) || u >= 0x80;
    };
    auto joiner = [](char c) { return c == '\'' || c == '-' || c == '.' || c == '/' || c == '_' || c == '+'; };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (!word_byte(text[i])) {
            out += text[i++];
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && (word_byte(text[j]) || (joiner(text[j]) && j + 1 < text.size() && word_byte(text[j + 1]))))
            ++j;
        const std::string w = text.substr(i, j - i);
        if (safe_descriptor_word(w)) out += w;
        else out += kMarker;
        i = j;
    }
    text.swap(out);
}

// Which byte pairs a folded text holds, hashed into 1024 bits: a term whose first two bytes are
// not among them cannot occur in the text, so its search is skipped (a hash collision only means
// a search that finds nothing). Most terms of an instance occur in none of its texts.
class PairFilter {
public:
    explicit PairFilter(const std::string& folded) {
        for (std::size_t i = 0; i + 1 < folded.size(); ++i) {
            const unsigned b = slot(folded, i);
            bits_[b >> 6] |= std::uint64_t(1) << (b & 63);
        }
    }
    bool may_hold(const std::string& term) const {
        if (term.size() < 2) return true;
        const unsigned b = slot(term, 0);
        return (bits_[b >> 6] >> (b & 63)) & 1;
    }

private:
    static unsigned slot(const std::string& s, std::size_t i) {
        return (static_cast<unsigned char>(s[i]) * 131u + static_cast<unsigned char>(s[i + 1])) & 1023u;
    }
    std::uint64_t bits_[16] = {};
};

}  // namespace

std::vector<std::size_t> TextCleaner::matched_terms(const std::string& text) const {
    std::vector<std::size_t> found;
    if (terms_.empty() || text.empty()) return found;
    const FoldedText folded(text);
    const PairFilter pairs(folded.folded());
    for (std::size_t i = 0; i < terms_.size(); ++i)
        if (pairs.may_hold(terms_[i].folded) && folded.contains(terms_[i].folded, terms_[i].strict)) found.push_back(i);
    return found;
}

std::string TextCleaner::clean(const std::string& input, Scope requested) const {
    const bool descriptor = requested == Scope::Descriptor;
    const Scope scope = descriptor ? Scope::Free : requested;
    std::string text = input;
    text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == kMarker || c == kKept; }), text.end());
    std::vector<std::string> kept;
    if (text.empty()) return text;
    {
        std::vector<Span> spans;
        // Every match of every term in the folded text, as spans of the original bytes.
        if (!terms_.empty()) {
            const FoldedText folded(text);
            const PairFilter pairs(folded.folded());
            for (const Term& term : terms_) {
                if (scope == Scope::Kept &&
                    (term.kind == TermKind::Phrase || term.kind == TermKind::Date ||
                     (term.kind == TermKind::Id && term.folded.size() < 5)))
                    continue;
                if (!pairs.may_hold(term.folded)) continue;
                for (std::size_t pos : folded.find_all(term.folded, term.strict))
                    spans.push_back({folded.source_begin(pos), folded.source_end(pos, term.folded.size()), {}});
            }
        }
        // Dates in free text: shifted when the text says them unambiguously, else removed.
        std::vector<TextDate> dates;
        if (scope == Scope::Free) dates = find_text_dates(text);
        for (const TextDate& d : dates) {
            std::string with;
            if (has_shift_ && d.year && d.month && d.day && !d.ambiguous) with = shifted_iso(d.year, d.month, d.day, shift_days_);
            // A date that is one of the instance's own (a term above) is removed, not shifted.
            for (const Span& t : spans)
                if (t.begin < d.end && d.begin < t.end) with.clear();
            spans.push_back({d.begin, d.end, with});
        }
        for (const PatternMatch& m : find_patterns(text)) {
            // A date's digits are the date's, not a phone number's.
            if (std::any_of(dates.begin(), dates.end(), [&](const TextDate& d) { return d.begin <= m.begin && m.end <= d.end; }))
                continue;
            spans.push_back({m.begin, m.end, {}});
        }
        replace_spans(text, spans, kept);
    }
    static const std::regex month_first(
        "\\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?\\s+\\d{1,2}(st|nd|rd|th)?,?\\s+\\d{2,4}\\b",
        std::regex::icase);
    static const std::regex day_first(
        "\\b\\d{1,2}(st|nd|rd|th)?[\\s-]+(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?,?[\\s-]+\\d{2,4}\\b",
        std::regex::icase);
    static const std::regex numeric_date("\\b\\d{1,4}[/.\\-]\\d{1,2}[/.\\-]\\d{2,4}\\b");
    static const std::regex phone("(\\+\\d{1,3}[\\s.\\-]?)?\\(?\\b\\d{3}\\)?[\\s.\\-]\\d{3}[\\s.\\-]\\d{4}\\b");
    static const std::regex intl_phone("\\+\\d[\\d\\s\\-()]{7,}\\d");
    // Each pattern runs only when the text has what every match of it needs (std::regex is slow,
    // and most descriptions have no date or number at all). Not in kept text (no dates, no id-like
    // tokens there).
    if (scope == Scope::Free && digit_count(text) > 0) {
        if (mentions_month(text)) {
            replace_regex(text, month_first);
            replace_regex(text, day_first);
        }
        if (has_digit_separator_digit(text)) replace_regex(text, numeric_date);
        if (text.find('+') != std::string::npos) replace_regex(text, intl_phone);
        if (digit_count(text) >= 10) replace_regex(text, phone);
        replace_id_tokens(text);
    }

    if (descriptor) apply_descriptor_policy(text);

    // Adjacent removals separated by blanks only become one.
    static const std::regex runs(std::string(1, kMarker) + "(\\s+" + std::string(1, kMarker) + ")+");
    if (text.find(kMarker) != std::string::npos) text = std::regex_replace(text, runs, std::string(1, kMarker));
    std::string out;
    std::size_t k = 0;
    for (char c : text) {
        if (c == kMarker) out += kRemoved;
        else if (c == kKept) out += k < kept.size() ? kept[k++] : "";
        else out += c;
    }
    return out;
}

}  // namespace deid
