#include "deid/TextNormaliser.h"

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

namespace deid {

namespace {

enum class Kind : std::uint8_t { Separator, Mark, Letter, Digit, Cjk };

struct Folded {
    Kind kind = Kind::Separator;
    std::string text;  // UTF-8; empty for separators and marks
};

bool in(std::uint32_t c, std::uint32_t lo, std::uint32_t hi) { return c >= lo && c <= hi; }

std::string to_utf8(const icu::UnicodeString& s) {
    std::string out;
    s.toUTF8String(out);
    return out;
}

const icu::Normalizer2* nfkc_casefold() {
    static const icu::Normalizer2* n = [] {
        UErrorCode e = U_ZERO_ERROR;
        const icu::Normalizer2* r = icu::Normalizer2::getNFKCCasefoldInstance(e);
        return U_SUCCESS(e) ? r : nullptr;
    }();
    return n;
}
const icu::Normalizer2* nfd() {
    static const icu::Normalizer2* n = [] {
        UErrorCode e = U_ZERO_ERROR;
        const icu::Normalizer2* r = icu::Normalizer2::getNFDInstance(e);
        return U_SUCCESS(e) ? r : nullptr;
    }();
    return n;
}

// NFKC case folding, then NFD without combining marks; used for code points outside the table.
std::string fold_generic(UChar32 cp) {
    icu::UnicodeString s(cp);
    UErrorCode e = U_ZERO_ERROR;
    if (const icu::Normalizer2* n = nfkc_casefold()) s = n->normalize(s, e);
    e = U_ZERO_ERROR;
    if (const icu::Normalizer2* n = nfd()) s = n->normalize(s, e);
    icu::UnicodeString kept;
    for (int32_t i = 0; i < s.length();) {
        UChar32 c = s.char32At(i);
        i += U16_LENGTH(c);
        const int8_t type = u_charType(c);
        if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK) continue;
        if (!u_isalnum(c)) continue;
        kept.append(c);
    }
    return to_utf8(kept);
}

// Latin (U+0080..U+024F, U+1E00..U+1EFF), Greek and Cyrillic (U+0370..U+052F, U+1F00..U+1FFF):
// "Any-Latin; Latin-ASCII" after case folding, computed once.
constexpr std::uint32_t kTableEnd = 0x2000;
struct Table {
    std::array<Folded, kTableEnd> entries;
};

Kind kind_of_text(const std::string& t) {
    if (t.empty()) return Kind::Mark;
    const unsigned char c = static_cast<unsigned char>(t[0]);
    return (c >= '0' && c <= '9') ? Kind::Digit : Kind::Letter;
}

const Table& table() {
    static std::unique_ptr<Table> t;
    static std::once_flag once;
    std::call_once(once, [] {
        t = std::make_unique<Table>();
        UErrorCode e = U_ZERO_ERROR;
        std::unique_ptr<icu::Transliterator> tr(
            icu::Transliterator::createInstance("Any-Latin; Latin-ASCII", UTRANS_FORWARD, e));
        if (U_FAILURE(e)) tr.reset();
        for (std::uint32_t cp = 0; cp < kTableEnd; ++cp) {
            Folded& f = t->entries[cp];
            if (cp < 0x80) {
                const char c = static_cast<char>(cp);
                if ((c >= '0' && c <= '9')) f = {Kind::Digit, std::string(1, c)};
                else if (c >= 'a' && c <= 'z') f = {Kind::Letter, std::string(1, c)};
                else if (c >= 'A' && c <= 'Z') f = {Kind::Letter, std::string(1, static_cast<char>(c + 32))};
                else f = {Kind::Separator, {}};
                continue;
            }
            const int8_t type = u_charType(static_cast<UChar32>(cp));
            if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK) {
                f = {Kind::Mark, {}};
                continue;
            }
            if (!u_isalnum(static_cast<UChar32>(cp))) {
                f = {Kind::Separator, {}};
                continue;
            }
            const bool transliterate = tr && (in(cp, 0x80, 0x24F) || in(cp, 0x370, 0x52F) || in(cp, 0x1E00, 0x1FFF));
            std::string out;
            if (transliterate) {
                icu::UnicodeString s(static_cast<UChar32>(cp));
                UErrorCode fe = U_ZERO_ERROR;
                if (const icu::Normalizer2* n = nfkc_casefold()) s = n->normalize(s, fe);
                tr->transliterate(s);
                s.foldCase();
                for (char c : to_utf8(s)) {
                    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
                    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out += c;
                }
            }
            if (out.empty()) out = fold_generic(static_cast<UChar32>(cp));
            f = {out.empty() ? Kind::Mark : kind_of_text(out), out};
        }
    });
    return *t;
}

Folded fold_code_point(UChar32 cp) {
    if (cp < 0) return {Kind::Separator, {}};  // not UTF-8: a separator, never part of a match
    const std::uint32_t c = static_cast<std::uint32_t>(cp);
    if (c < kTableEnd) return table().entries[c];
    if (is_cjk(c)) {
        icu::UnicodeString s(cp);
        UErrorCode e = U_ZERO_ERROR;
        if (const icu::Normalizer2* n = nfkc_casefold()) s = n->normalize(s, e);  // half-width kana
        return {Kind::Cjk, to_utf8(s)};
    }
    const int8_t type = u_charType(cp);
    if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK)
        return {Kind::Mark, {}};
    if (!u_isalnum(cp)) return {Kind::Separator, {}};
    std::string out = fold_generic(cp);
    if (out.empty()) return {Kind::Mark, {}};
    // Full-width Latin (U+FF21) folds to ASCII; everything else keeps its own letters.
    return {kind_of_text(out), out};
}

}  // namespace

bool is_cjk(std::uint32_t c) {
    return in(c, 0x1100, 0x11FF) || in(c, 0x3040, 0x30FF) || in(c, 0x3130, 0x318F) || in(c, 0x31F0, 0x31FF) ||
           in(c, 0x3400, 0x4DBF) || in(c, 0x4E00, 0x9FFF) || in(c, 0xA960, 0xA97F) || in(c, 0xAC00, 0xD7AF) ||
           in(c, 0xD7B0, 0xD7FF) || in(c, 0xF900, 0xFAFF) || in(c, 0xFF66, 0xFF9F) || in(c, 0xFFA0, 0xFFDC) ||
           in(c, 0x20000, 0x3FFFF);
}

bool is_ascii(const std::string& s) {
    unsigned char any = 0;  // no early exit: the compiler vectorises the loop
    for (char c : s) any |= static_cast<unsigned char>(c);
    return any < 0x80;
}

bool is_valid_utf8(const std::string& s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const int32_t n = static_cast<int32_t>(s.size());
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0) return false;
    }
    return true;
}

std::string latin1_to_utf8(const std::string& raw) {
    std::string out;
    out.reserve(raw.size() * 2);
    for (char ch : raw) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            out += ch;
        } else {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

std::string decode_unlabelled(const std::string& raw) {
    if (is_ascii(raw) || is_valid_utf8(raw)) return raw;
    return latin1_to_utf8(raw);
}

std::vector<std::string> unlabelled_readings(const std::string& raw) {
    if (is_ascii(raw)) return {raw};
    // Each well-formed UTF-8 sequence as UTF-8, every other byte as ISO 8859-1.
    std::string mixed;
    const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
    const int32_t n = static_cast<int32_t>(raw.size());
    for (int32_t i = 0; i < n;) {
        const int32_t start = i;
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c >= 0) {
            mixed.append(raw, static_cast<std::size_t>(start), static_cast<std::size_t>(i - start));
        } else {
            i = start + 1;
            mixed += latin1_to_utf8(raw.substr(static_cast<std::size_t>(start), 1));
        }
    }
    std::string latin1 = latin1_to_utf8(raw);
    const std::string first = decode_unlabelled(raw);
    std::vector<std::string> out = {first};
    for (std::string* r : {&mixed, &latin1})
        if (std::find(out.begin(), out.end(), *r) == out.end()) out.push_back(std::move(*r));
    return out;
}

FoldedText::FoldedText(const std::string& text) {
    folded_.reserve(text.size());
    begin_.reserve(text.size());
    end_.reserve(text.size());
    flags_.reserve(text.size());
    Kind prev = Kind::Separator;  // the start counts as a separator
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    const int32_t n = static_cast<int32_t>(text.size());
    auto emit = [&](const std::string& out, Kind kind, std::uint32_t b, std::uint32_t e) {
        std::uint8_t first = 0;
        if (prev == Kind::Separator || prev == Kind::Cjk || kind == Kind::Cjk) first = 1;
        else if (prev != kind) first = 2;  // letter <-> digit
        const std::uint8_t cjk = kind == Kind::Cjk ? 4 : 0;
        for (std::size_t k = 0; k < out.size(); ++k) {
            folded_ += out[k];
            begin_.push_back(b);
            end_.push_back(e);
            flags_.push_back(static_cast<std::uint8_t>((k == 0 ? first : 0) | cjk));
        }
        prev = kind;
    };
    // One ASCII letter or digit (what emit does for a one-byte output, without building a string).
    auto emit_ascii = [&](char out, Kind kind, std::uint32_t b) {
        const std::uint8_t first = prev == Kind::Separator || prev == Kind::Cjk ? 1 : prev != kind ? 2 : 0;
        folded_ += out;
        begin_.push_back(b);
        end_.push_back(b + 1);
        flags_.push_back(first);
        prev = kind;
    };
    for (int32_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c < 0x80) {  // the ASCII path: no ICU
            const std::uint32_t b = static_cast<std::uint32_t>(i++);
            if (c >= 'a' && c <= 'z') emit_ascii(static_cast<char>(c), Kind::Letter, b);
            else if (c >= 'A' && c <= 'Z') emit_ascii(static_cast<char>(c + 32), Kind::Letter, b);
            else if (c >= '0' && c <= '9') emit_ascii(static_cast<char>(c), Kind::Digit, b);
            else prev = Kind::Separator;
            continue;
        }
        const std::uint32_t b = static_cast<std::uint32_t>(i);
        UChar32 cp;
        U8_NEXT(p, i, n, cp);
        const Folded f = fold_code_point(cp);
        if (f.kind == Kind::Separator) {
            prev = Kind::Separator;
            continue;
        }
        if (f.kind == Kind::Mark) {
            // A combining mark belongs to the character before it: widen that one's span.
            for (std::size_t k = end_.size(); k > 0 && end_[k - 1] == b; --k) end_[k - 1] = static_cast<std::uint32_t>(i);
            continue;
        }
        emit(f.text, f.kind, b, static_cast<std::uint32_t>(i));
    }
}

bool FoldedText::boundary_at(std::size_t pos, bool strict) const {
    if (pos == 0 || pos >= folded_.size()) return true;
    const std::uint8_t f = flags_[pos];
    if (f & 1) return true;
    return !strict && (f & 2);
}

std::vector<std::size_t> FoldedText::find_all(const std::string& term, bool strict) const {
    std::vector<std::size_t> out;
    if (term.empty()) return out;
    for (std::size_t pos = folded_.find(term); pos != std::string::npos; pos = folded_.find(term, pos + 1))
        if (boundary_at(pos, strict) && boundary_at(pos + term.size(), strict)) out.push_back(pos);
    return out;
}

std::string fold(const std::string& utf8) {
    if (is_ascii(utf8)) {  // what FoldedText keeps of ASCII: letters (lower case) and digits
        std::string out(utf8.size(), '\0');
        std::size_t n = 0;
        for (char c : utf8) {
            if (c >= 'A' && c <= 'Z') out[n++] = static_cast<char>(c + 32);
            else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out[n++] = c;
        }
        out.resize(n);
        return out;
    }
    return FoldedText(utf8).folded();
}

std::vector<std::string> fold_variants(const std::string& utf8) {
    std::vector<std::string> out;
    auto add = [&](std::string v) {
        if (v.empty()) return;
        for (const std::string& o : out)
            if (o == v) return;
        out.push_back(std::move(v));
    };
    std::string base = fold(utf8);
    // A term written with the spelled-out form also stands for the letter with its umlaut, which
    // folds to the bare vowel: "MUELLER" -> "muller", "SOERENSEN" -> "sorensen". (A copy of the
    // base only when it has such a pair: most terms have none.)
    std::string bare;
    bool changed = false;
    if (base.find("ae") != std::string::npos || base.find("oe") != std::string::npos ||
        base.find("ue") != std::string::npos || base.find("aa") != std::string::npos) {
        bare = base;
        for (const char* pair : {"ae", "oe", "ue", "aa"})
            for (std::size_t p = bare.find(pair); p != std::string::npos; p = bare.find(pair, p + 1)) {
                bare.erase(p + 1, 1);
                changed = true;
            }
    }
    add(std::move(base));
    if (!is_ascii(utf8)) {
        // German and Nordic spellings of letters with umlauts or ligatures.
        static const std::pair<const char*, const char*> kSpelled[] = {
            {"\xC3\xA4", "ae"}, {"\xC3\x84", "AE"}, {"\xC3\xB6", "oe"}, {"\xC3\x96", "OE"}, {"\xC3\xBC", "ue"},
            {"\xC3\x9C", "UE"}, {"\xC3\xA5", "aa"}, {"\xC3\x85", "AA"}, {"\xC3\xB8", "oe"}, {"\xC3\x98", "OE"},
        };
        std::string spelled = utf8;
        for (const auto& s : kSpelled)
            for (std::size_t p = spelled.find(s.first); p != std::string::npos; p = spelled.find(s.first, p))
                spelled.replace(p, 2, s.second);
        add(fold(spelled));
    }
    if (changed && bare.size() >= 4) add(std::move(bare));
    return out;
}

}  // namespace deid
