#include "deid/DateText.h"

#include <cstdlib>
#include <unordered_map>

#include "deid/TextNormaliser.h"

namespace deid {

namespace {

// Folded month names and abbreviations -> month (1 = January); hashed: every word of a text
// with a number in it is looked up.
const std::unordered_map<std::string, int>& months() {
    static const std::unordered_map<std::string, int> m = [] {
        const std::vector<std::vector<std::string>> names = {
            {"january", "jan", "januar", "janner", "janvier", "janv", "enero", "ene", "gennaio", "gen", "januari", "janeiro", "jaanuar", "styczen", "stycznia", "leden", "ledna"},
            {"february", "feb", "febr", "februar", "fevrier", "fevr", "fev", "febrero", "febbraio", "februari", "fevereiro", "luty", "lutego", "unor"},
            {"march", "mar", "marz", "maerz", "mrz", "mars", "marzo", "maart", "maa", "marco", "mars", "marzec", "marca", "brezen"},
            {"april", "apr", "avril", "avr", "abril", "abr", "aprile", "kwiecien", "kwietnia", "duben"},
            {"may", "mai", "mayo", "maggio", "mei", "maio", "maj", "maja", "kveten"},
            {"june", "jun", "juni", "juin", "junio", "giugno", "junho", "czerwiec", "czerwca", "cerven"},
            {"july", "jul", "juli", "juillet", "juil", "julio", "luglio", "lug", "julho", "lipiec", "lipca", "cervenec"},
            {"august", "aug", "aout", "agosto", "ago", "augustus", "augusti", "sierpien", "sierpnia", "srpen"},
            {"september", "sep", "sept", "septembre", "septiembre", "settembre", "set", "setembro", "wrzesien", "wrzesnia", "zari"},
            {"october", "oct", "okt", "oktober", "octobre", "octubre", "ottobre", "ott", "outubro", "out", "pazdziernik", "pazdziernika", "rijen"},
            {"november", "nov", "novembre", "noviembre", "novembro", "listopad", "listopada"},
            {"december", "dec", "dez", "dezember", "decembre", "diciembre", "dic", "dicembre", "dezembro", "desember", "grudzien", "grudnia", "prosinec"},
        };
        std::unordered_map<std::string, int> out;
        for (std::size_t i = 0; i < names.size(); ++i)
            for (const std::string& n : names[i]) out.emplace(n, static_cast<int>(i) + 1);
        return out;
    }();
    return m;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Token {
    enum Kind { Number, Word, Year, Month, Day } kind;  // Year/Month/Day: 年 / 月 / 日 (and Korean 년 월 일)
    std::size_t begin, end;
    std::string text;  // digits or folded word
    char sep_before;   // the last ASCII separator between this token and the one before (' ' if only blanks, 0 if none)
};

std::vector<Token> tokenise(const std::string& s) {
    std::vector<Token> out;
    out.reserve(16);
    char sep = 0;
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (is_digit(static_cast<char>(c))) {
            std::size_t j = i;
            while (j < s.size() && is_digit(s[j])) ++j;
            out.push_back({Token::Number, i, j, s.substr(i, j - i), sep});
            sep = 0;
            i = j;
            continue;
        }
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            // CJK date markers are tokens of their own.
            static const std::pair<const char*, Token::Kind> kMarkers[] = {
                {"\xE5\xB9\xB4", Token::Year}, {"\xE6\x9C\x88", Token::Month}, {"\xE6\x97\xA5", Token::Day},
                {"\xEB\x85\x84", Token::Year}, {"\xEC\x9B\x94", Token::Month}, {"\xEC\x9D\xBC", Token::Day}};
            bool marker = false;
            // Every marker is a 3-byte UTF-8 sequence: ASCII letters are never one.
            if (c >= 0x80)
                for (const auto& m : kMarkers)
                    if (s.compare(i, 3, m.first) == 0) {
                        out.push_back({m.second, i, i + 3, {}, sep});
                        sep = 0;
                        i += 3;
                        marker = true;
                        break;
                    }
            if (marker) continue;
            std::size_t j = i;
            while (j < s.size()) {
                const unsigned char d = static_cast<unsigned char>(s[j]);
                const bool letter = d >= 0x80 || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z');
                if (!letter) break;
                bool is_marker = false;
                if (d >= 0x80)
                    for (const auto& m : kMarkers) is_marker = is_marker || s.compare(j, 3, m.first) == 0;
                if (is_marker) break;
                ++j;
            }
            if (j == i) ++j;
            // An ASCII word (letters only) folds to its lower case: no copy to fold.
            bool ascii = true;
            for (std::size_t k = i; k < j && ascii; ++k) ascii = static_cast<unsigned char>(s[k]) < 0x80;
            std::string word;
            if (ascii) {
                word.assign(s, i, j - i);
                for (char& ch : word)
                    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
            } else {
                word = fold(s.substr(i, j - i));
            }
            out.push_back({Token::Word, i, j, std::move(word), sep});
            sep = 0;
            i = j;
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (sep == 0) sep = ' ';
        } else {
            sep = static_cast<char>(c);
        }
        ++i;
    }
    return out;
}

bool valid(int y, int m, int d) {
    if (m < 1 || m > 12 || d < 1 || d > 31) return false;
    if (y != 0 && (y < 1800 || y > 2200)) return false;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return d <= kDays[m - 1];
}

int year_of(const std::string& digits) {
    const int v = std::atoi(digits.c_str());
    if (digits.size() == 4) return v;
    if (digits.size() == 2) return v <= 30 ? 2000 + v : 1900 + v;  // two-digit years
    return -1;
}

bool ordinal_suffix(const std::string& w) {
    return w == "st" || w == "nd" || w == "rd" || w == "th" || w == "er" || w == "e" || w == "eme" || w == "o" ||
           w == "de" || w == "del" || w == "of" || w == "den" || w == "le";
}

}  // namespace

int month_of_word(const std::string& w) {
    auto it = months().find(w);
    return it == months().end() ? 0 : it->second;
}

std::vector<std::string> date_written_forms(const std::string& d) {
    std::vector<std::string> out;
    if (d.size() != 8) return out;
    const std::string y = d.substr(0, 4), m = d.substr(4, 2), dd = d.substr(6, 2), yy = d.substr(2, 2);
    const int mi = std::atoi(m.c_str()), di = std::atoi(dd.c_str());
    if (mi < 1 || mi > 12 || di < 1 || di > 31) return out;
    const std::string ms = std::to_string(mi), ds = std::to_string(di);
    out.reserve(7 + 16);
    auto add = [&](std::string f) {
        for (const std::string& o : out)
            if (o == f) return;
        out.push_back(std::move(f));
    };
    // Numeric forms, separators folded away (fold() keeps the digits and drops '/' and '.':
    // "3/19/2022" is "3192022").
    add(y + m + dd);
    add(m + dd + y);
    add(dd + m + y);
    add(ms + ds + y);
    add(ds + ms + y);
    add(m + dd + yy);
    add(dd + m + yy);
    // Month names (every language, ordinals, without the year) are not spelled out here:
    // find_text_dates reads them, and both the cleaner and the verifier use it.
    // CJK: 2023年1月5日 and 1月5日 (Korean 년/월/일 too).
    static const char* const kCjk[2][3] = {{"\xE5\xB9\xB4", "\xE6\x9C\x88", "\xE6\x97\xA5"},
                                           {"\xEB\x85\x84", "\xEC\x9B\x94", "\xEC\x9D\xBC"}};
    // (Each holds its markers, so they differ from the numeric forms and from each other once the
    // month and day writings are distinct: "1" and "01", but "12" once.)
    const std::string* const months[2] = {ms == m ? &m : &ms, &m};
    const std::string* const days[2] = {ds == dd ? &dd : &ds, &dd};
    const int n_months = ms == m ? 1 : 2, n_days = ds == dd ? 1 : 2;
    for (const auto& mk : kCjk)
        for (int a = 0; a < n_months; ++a)
            for (int b = 0; b < n_days; ++b) {
                std::string md = *months[a];
                md.append(mk[1]).append(*days[b]).append(mk[2]);
                std::string ymd = y;
                ymd.append(mk[0]).append(md);
                out.push_back(std::move(ymd));
                out.push_back(std::move(md));
            }
    return out;
}

std::vector<TextDate> find_text_dates(const std::string& text) {
    std::vector<TextDate> out;
    // Every form below has a run of 1, 2, 4 or 8 digits (a day or month, a year, YYYYMMDD):
    // without one there is no date to find.
    bool runs = false;
    for (std::size_t i = 0; i < text.size() && !runs;) {
        if (!is_digit(text[i])) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < text.size() && is_digit(text[j])) ++j;
        const std::size_t n = j - i;
        runs = n == 1 || n == 2 || n == 4 || n == 8;
        i = j;
    }
    if (!runs) return out;
    const std::vector<Token> t = tokenise(text);
    auto num = [&](std::size_t i, std::size_t lo, std::size_t hi) {
        return i < t.size() && t[i].kind == Token::Number && t[i].text.size() >= lo && t[i].text.size() <= hi;
    };
    auto word_month = [&](std::size_t i) { return i < t.size() && t[i].kind == Token::Word ? month_of_word(t[i].text) : 0; };
    auto word_is = [&](std::size_t i, bool (*pred)(const std::string&)) {
        return i < t.size() && t[i].kind == Token::Word && pred(t[i].text);
    };
    for (std::size_t i = 0; i < t.size(); ++i) {
        TextDate d;
        std::size_t last = i;
        bool found = false;
        // CJK: [Y 年] M 月 D 日
        if (num(i, 1, 4) && i + 1 < t.size() && t[i + 1].kind == Token::Year && num(i + 2, 1, 2) &&
            i + 3 < t.size() && t[i + 3].kind == Token::Month && num(i + 4, 1, 2) && i + 5 < t.size() &&
            t[i + 5].kind == Token::Day) {
            d.year = std::atoi(t[i].text.c_str());
            d.month = std::atoi(t[i + 2].text.c_str());
            d.day = std::atoi(t[i + 4].text.c_str());
            last = i + 5;
            found = valid(d.year, d.month, d.day);
        } else if (num(i, 1, 2) && i + 1 < t.size() && t[i + 1].kind == Token::Month && num(i + 2, 1, 2) &&
                   i + 3 < t.size() && t[i + 3].kind == Token::Day) {
            d.month = std::atoi(t[i].text.c_str());
            d.day = std::atoi(t[i + 2].text.c_str());
            last = i + 3;
            found = valid(0, d.month, d.day);
        } else if (num(i, 8, 8)) {
            // 20230105 on its own
            const std::string& s = t[i].text;
            d.year = std::atoi(s.substr(0, 4).c_str());
            d.month = std::atoi(s.substr(4, 2).c_str());
            d.day = std::atoi(s.substr(6, 2).c_str());
            found = d.year >= 1900 && d.year <= 2100 && valid(d.year, d.month, d.day);
        } else if (num(i, 1, 4) && num(i + 1, 1, 2) && num(i + 2, 1, 4) && t[i + 1].sep_before != ' ' &&
                   t[i + 1].sep_before != 0 && t[i + 1].sep_before == t[i + 2].sep_before &&
                   (t[i + 1].sep_before == '/' || t[i + 1].sep_before == '.' || t[i + 1].sep_before == '-')) {
            const char sep = t[i + 1].sep_before;
            const std::string &a = t[i].text, &b = t[i + 1].text, &c = t[i + 2].text;
            last = i + 2;
            if (a.size() == 4 && c.size() <= 2) {  // Y-M-D
                d.year = std::atoi(a.c_str());
                d.month = std::atoi(b.c_str());
                d.day = std::atoi(c.c_str());
                found = valid(d.year, d.month, d.day);
            } else if (a.size() <= 2 && (c.size() == 4 || c.size() == 2)) {
                const int x = std::atoi(a.c_str()), y = std::atoi(b.c_str());
                d.year = year_of(c);
                if (sep == '.') {  // European: D.M.Y
                    d.day = x;
                    d.month = y;
                } else if (x > 12) {
                    d.day = x;
                    d.month = y;
                } else if (y > 12) {
                    d.month = x;
                    d.day = y;
                } else {
                    d.month = x;
                    d.day = y;
                    d.ambiguous = x != y;
                }
                found = valid(d.year, d.month, d.day) || (d.ambiguous && valid(d.year, d.day, d.month));
            }
        } else if (num(i, 1, 2) && num(i + 1, 1, 2) && t[i + 1].sep_before == '.' && i + 1 < t.size() &&
                   t[i + 1].end < text.size() && text[t[i + 1].end] == '.' &&
                   (i + 2 >= t.size() || t[i + 2].sep_before != 0)) {
            // German day-month without a year: "05.01."
            d.day = std::atoi(t[i].text.c_str());
            d.month = std::atoi(t[i + 1].text.c_str());
            last = i + 1;
            found = valid(0, d.month, d.day);
        } else if (num(i, 1, 2)) {
            // D [.|st|nd|rd|th|er|de|of] Month [de] [Y]
            std::size_t k = i + 1;
            while (k < i + 3 && word_is(k, ordinal_suffix)) ++k;
            if (int mo = word_month(k)) {
                d.day = std::atoi(t[i].text.c_str());
                d.month = mo;
                last = k;
                std::size_t y = k + 1;
                if (word_is(y, ordinal_suffix)) ++y;
                if (num(y, 4, 4) || (num(y, 2, 2) && t[y].sep_before != 0)) {
                    d.year = year_of(t[y].text);
                    last = y;
                }
                found = valid(d.year, d.month, d.day);
            }
        } else if (int mo = word_month(i)) {
            // Month D[st] [,] [Y]
            std::size_t k = i + 1;
            if (num(k, 1, 2)) {
                d.month = mo;
                d.day = std::atoi(t[k].text.c_str());
                last = k;
                std::size_t y = k + 1;
                if (word_is(y, ordinal_suffix)) {
                    last = y;
                    ++y;
                }
                if (num(y, 4, 4)) {
                    d.year = year_of(t[y].text);
                    last = y;
                }
                found = valid(d.year, d.month, d.day);
                // "May 5" needs the month to be a month: a short English word also written in text
                // ("may", "mar", "set", "out", "gen") needs a year to count.
                if (found && d.year == 0 && t[i].text.size() <= 3 &&
                    (t[i].text == "may" || t[i].text == "mar" || t[i].text == "set" || t[i].text == "out" ||
                     t[i].text == "gen" || t[i].text == "ago" || t[i].text == "dic" || t[i].text == "mai"))
                    found = false;
            } else if (num(k, 4, 4)) {
                // Month YYYY: a month in a year
                d.month = mo;
                d.year = std::atoi(t[k].text.c_str());
                last = k;
                found = d.year >= 1900 && d.year <= 2100;
                d.day = 0;
                if (found) {
                    d.begin = t[i].begin;
                    d.end = t[last].end;
                    d.ambiguous = true;  // no day: removed, not shifted
                    out.push_back(d);
                    i = last;
                    continue;
                }
            }
        }
        if (!found) continue;
        // Ordinal suffix glued to the number ("5th") is a Word token after it: already in range.
        d.begin = t[i].begin;
        d.end = t[last].end;
        if (last + 1 < t.size() && t[last + 1].kind == Token::Word && t[last + 1].sep_before == 0 &&
            ordinal_suffix(t[last + 1].text))
            d.end = t[last + 1].end;
        // A German date's closing dot ("5. Januar") stays text.
        out.push_back(d);
        i = last;
    }
    return out;
}

}  // namespace deid
