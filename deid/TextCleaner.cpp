#include "deid/TextCleaner.h"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <regex>

namespace deid {

namespace {

const char kMarker = '\x01';  // stands for "[removed]" until the end, so terms never match inside it

char fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(const std::string& s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), fold);
    return r;
}

std::string trim(const std::string& s) {
    const char* ws = " \t\r\n";
    std::size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return "";
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

bool word_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u >= 0x80;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) { out.push_back(cur); cur.clear(); }
        else cur += c;
    }
    out.push_back(cur);
    return out;
}

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
const char* const kMonthNames[] = {"january", "february", "march", "april", "may", "june", "july",
                                   "august", "september", "october", "november", "december"};

// Replaces every whole-word occurrence (case-insensitive) of `term` in `text` by the marker.
void replace_term(std::string& text, std::string& folded, const std::string& term) {
    std::size_t pos = 0;
    while ((pos = folded.find(term, pos)) != std::string::npos) {
        std::size_t end = pos + term.size();
        bool left_ok = pos == 0 || !word_char(folded[pos - 1]) || !word_char(term.front());
        bool right_ok = end >= folded.size() || !word_char(folded[end]) || !word_char(term.back());
        if (left_ok && right_ok) {
            text.replace(pos, term.size(), 1, kMarker);
            folded.replace(pos, term.size(), 1, kMarker);
            pos += 1;
        } else {
            pos += 1;
        }
    }
}

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

void TextCleaner::add_term(const std::string& term, std::size_t min_length) {
    add_folded_term(lower(trim(term)), min_length);
}

void TextCleaner::add_folded_term(std::string t, std::size_t min_length) {
    if (t.size() < min_length) return;
    if (std::find(terms_.begin(), terms_.end(), t) != terms_.end()) return;
    // Longest first, so whole names go before their components.
    auto at = std::find_if(terms_.begin(), terms_.end(), [&](const std::string& u) { return u.size() < t.size(); });
    terms_.insert(at, std::move(t));
}

void TextCleaner::add_person_name(const std::string& pn) {
    for (const std::string& group : split(pn, '=')) {
        std::vector<std::string> c = split(group, '^');
        for (std::string& s : c) s = trim(s);
        std::string family = c.size() > 0 ? c[0] : "", given = c.size() > 1 ? c[1] : "",
                    middle = c.size() > 2 ? c[2] : "";
        // Whole names in the usual written orders first, so "JOHN DOE" becomes one "[removed]".
        if (!family.empty() && !given.empty()) {
            add_term(given + " " + family, 3);
            add_term(family + " " + given, 3);
            add_term(family + ", " + given, 3);
            add_term(family + "," + given, 3);
            add_term(family + "^" + given, 3);
            if (!middle.empty()) {
                add_term(given + " " + middle + " " + family, 3);
                add_term(family + ", " + given + " " + middle, 3);
                add_term(family + "^" + given + "^" + middle, 3);
            }
        }
        add_term(group, 3);
        // Each name component (and each word of it); initials are too short to matter.
        for (std::size_t i = 0; i < c.size() && i < 3; ++i) {
            add_term(c[i], 2);
            // And each word of it ("MARY ANN", "PANCREAS_0001", "SMITH-JONES").
            std::string word;
            for (char ch : c[i] + " ") {
                if (word_char(ch)) word += ch;
                else { add_term(word, 2); word.clear(); }
            }
        }
    }
}

void TextCleaner::add_identifier(const std::string& id) { add_term(id, 3); }

void TextCleaner::add_phrase(const std::string& phrase) { add_term(phrase, 3); }

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
    const std::vector<std::string> forms = {
        y + m + dd, y + "-" + m + "-" + dd, y + "/" + m + "/" + dd, y + "." + m + "." + dd,
        m + "/" + dd + "/" + y, ms + "/" + ds + "/" + y, m + "/" + dd + "/" + yy, ms + "/" + ds + "/" + yy,
        dd + "/" + m + "/" + y, ds + "/" + ms + "/" + y, dd + "." + m + "." + y, ds + "." + ms + "." + y,
        dd + "-" + m + "-" + y, m + "-" + dd + "-" + y, dd + "." + m + "." + yy,
    };
    // Digits, separators and lower-case month names only: already folded.
    for (const std::string& f : forms) add_folded_term(f, 6);
    for (const char* const* names : {kMonths, kMonthNames}) {
        const std::string mon = names[mi - 1];
        for (const std::string& day : {ds, dd}) {
            add_folded_term(mon + " " + day + " " + y, 6);
            add_folded_term(mon + " " + day + ", " + y, 6);
            add_folded_term(day + " " + mon + " " + y, 6);
            add_folded_term(day + "-" + mon + "-" + y, 6);
            add_folded_term(mon + ". " + day + ", " + y, 6);
        }
    }
}

std::string TextCleaner::clean(const std::string& input) const {
    std::string text = input;
    text.erase(std::remove(text.begin(), text.end(), kMarker), text.end());
    std::string folded = lower(text);
    for (const std::string& term : terms_) replace_term(text, folded, term);

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
    // and most descriptions have no date or number at all).
    if (digit_count(text) > 0) {
        if (mentions_month(text)) {
            replace_regex(text, month_first);
            replace_regex(text, day_first);
        }
        if (has_digit_separator_digit(text)) replace_regex(text, numeric_date);
        if (text.find('+') != std::string::npos) replace_regex(text, intl_phone);
        if (digit_count(text) >= 10) replace_regex(text, phone);
        replace_id_tokens(text);
    }

    // Adjacent removals separated by blanks only become one.
    static const std::regex runs(std::string(1, kMarker) + "(\\s+" + std::string(1, kMarker) + ")+");
    if (text.find(kMarker) != std::string::npos) text = std::regex_replace(text, runs, std::string(1, kMarker));
    std::string out;
    for (char c : text) {
        if (c == kMarker) out += kRemoved;
        else out += c;
    }
    return out;
}

}  // namespace deid
