#include "deid/CharsetDecoder.h"

#include <vector>

#include <unicode/ucnv.h>

#include "deid/TextNormaliser.h"

namespace deid {

namespace {

enum class Set { Ascii, JisRoman, JisKatakana, Jis0208, Jis0212, Ksx1001, Gb2312, Latin1, Greek, Cyrillic,
                 Hebrew, Arabic, Latin5, Latin2, Thai, Unknown };

Set set_of_term(const std::string& term) {
    if (term.empty() || term == "ISO 2022 IR 6") return Set::Ascii;
    if (term == "ISO 2022 IR 13") return Set::JisRoman;  // G0 Roman, G1 katakana
    if (term == "ISO 2022 IR 87") return Set::Jis0208;
    if (term == "ISO 2022 IR 159") return Set::Jis0212;
    if (term == "ISO 2022 IR 149") return Set::Ksx1001;
    if (term == "ISO 2022 IR 58") return Set::Gb2312;
    if (term == "ISO 2022 IR 100") return Set::Latin1;
    if (term == "ISO 2022 IR 126") return Set::Greek;
    if (term == "ISO 2022 IR 144") return Set::Cyrillic;
    if (term == "ISO 2022 IR 138") return Set::Hebrew;
    if (term == "ISO 2022 IR 127") return Set::Arabic;
    if (term == "ISO 2022 IR 148") return Set::Latin5;
    if (term == "ISO 2022 IR 101") return Set::Latin2;
    if (term == "ISO 2022 IR 166") return Set::Thai;
    return Set::Unknown;
}

const char* converter_of(Set s) {
    switch (s) {
        case Set::Jis0208: case Set::Jis0212: return "EUC-JP";
        case Set::Ksx1001: return "EUC-KR";
        case Set::Gb2312: return "EUC-CN";
        case Set::Latin1: return "ISO-8859-1";
        case Set::Greek: return "ISO-8859-7";
        case Set::Cyrillic: return "ISO-8859-5";
        case Set::Hebrew: return "ISO-8859-8";
        case Set::Arabic: return "ISO-8859-6";
        case Set::Latin5: return "ISO-8859-9";
        case Set::Latin2: return "ISO-8859-2";
        case Set::Thai: return "TIS-620";
        default: return nullptr;
    }
}

bool convert(const std::string& bytes, const char* converter, std::string& out) {
    if (bytes.empty()) return true;
    UErrorCode e = U_ZERO_ERROR;
    std::vector<char> buf(bytes.size() * 4 + 8);
    UConverter* to = ucnv_open("UTF-8", &e);
    UConverter* from = ucnv_open(converter, &e);
    if (U_SUCCESS(e)) {
        ucnv_setToUCallBack(from, UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &e);
    }
    int32_t n = 0;
    if (U_SUCCESS(e)) {
        char* target = buf.data();
        const char* source = bytes.data();
        ucnv_convertEx(to, from, &target, buf.data() + buf.size(), &source, bytes.data() + bytes.size(), nullptr,
                       nullptr, nullptr, nullptr, true, true, &e);
        n = static_cast<int32_t>(target - buf.data());
    }
    if (from) ucnv_close(from);
    if (to) ucnv_close(to);
    if (U_FAILURE(e)) return false;
    out.append(buf.data(), static_cast<std::size_t>(n));
    return true;
}

}  // namespace

std::optional<std::string> decode_iso2022(const std::string& raw, const std::string& charset, bool person_name) {
    // Initial code elements: the first value of Specific Character Set.
    std::string first = charset.substr(0, charset.find('\\'));
    while (!first.empty() && first.back() == ' ') first.pop_back();
    Set g0_initial = Set::Ascii, g1_initial = Set::Unknown;
    const Set initial = set_of_term(first);
    if (initial == Set::Unknown) return std::nullopt;
    if (initial == Set::JisRoman) g1_initial = Set::JisKatakana;
    else if (initial != Set::Ascii && initial != Set::Jis0208 && initial != Set::Jis0212) g1_initial = initial;
    Set g0 = g0_initial, g1 = g1_initial;

    std::string out, run;  // `run`: bytes of the current code element, converted together
    Set run_set = Set::Ascii;
    auto flush = [&]() -> bool {
        if (run.empty()) return true;
        bool ok = true;
        if (run_set == Set::Ascii || run_set == Set::JisRoman) out += run;
        else if (run_set == Set::JisKatakana) {
            for (char c : run) {  // GR 0xA1..0xDF -> U+FF61..U+FF9F
                const unsigned char b = static_cast<unsigned char>(c);
                const unsigned cp = 0xFF61 + (b - 0xA1);
                out += static_cast<char>(0xE0 | (cp >> 12));
                out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                out += static_cast<char>(0x80 | (cp & 0x3F));
            }
        } else if (const char* conv = converter_of(run_set)) {
            ok = convert(run, conv, out);
        } else {
            ok = false;
        }
        run.clear();
        return ok;
    };
    auto add = [&](Set s, char c) -> bool {
        if (s != run_set && !flush()) return false;
        run_set = s;
        run += c;
        return true;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(raw[i]);
        if (c == 0x1B) {
            const std::string rest = raw.substr(i + 1, 3);
            Set* target = nullptr;
            Set s = Set::Unknown;
            std::size_t len = 0;
            if (rest.compare(0, 2, "(B") == 0) { target = &g0; s = Set::Ascii; len = 2; }
            else if (rest.compare(0, 2, "(J") == 0) { target = &g0; s = Set::JisRoman; len = 2; }
            else if (rest.compare(0, 2, ")I") == 0) { target = &g1; s = Set::JisKatakana; len = 2; }
            else if (rest.compare(0, 2, "$B") == 0) { target = &g0; s = Set::Jis0208; len = 2; }
            else if (rest.compare(0, 3, "$(D") == 0) { target = &g0; s = Set::Jis0212; len = 3; }
            else if (rest.compare(0, 3, "$)C") == 0) { target = &g1; s = Set::Ksx1001; len = 3; }
            else if (rest.compare(0, 3, "$)A") == 0) { target = &g1; s = Set::Gb2312; len = 3; }
            else if (rest.size() >= 2 && rest[0] == '-') {
                target = &g1;
                len = 2;
                switch (rest[1]) {
                    case 'A': s = Set::Latin1; break;
                    case 'F': s = Set::Greek; break;
                    case 'L': s = Set::Cyrillic; break;
                    case 'H': s = Set::Hebrew; break;
                    case 'G': s = Set::Arabic; break;
                    case 'M': s = Set::Latin5; break;
                    case 'B': s = Set::Latin2; break;
                    case 'T': s = Set::Thai; break;
                    default: return std::nullopt;
                }
            }
            if (!target) return std::nullopt;
            *target = s;
            i += len;
            continue;
        }
        const bool delimiter = c == '\r' || c == '\n' || c == '\f' || c == '\t' || c == '\\' ||
                               (person_name && (c == '^' || c == '='));
        if (delimiter) {
            if (!flush()) return std::nullopt;
            out += static_cast<char>(c);
            g0 = g0_initial;
            g1 = g1_initial;
            run_set = Set::Ascii;
            continue;
        }
        if (c < 0x80) {
            if (c == ' ') {  // SPACE in every G0 set
                if (!flush()) return std::nullopt;
                out += ' ';
                run_set = Set::Ascii;
                continue;
            }
            if (g0 == Set::Jis0208 || g0 == Set::Jis0212) {
                // Two-byte sets in G0: the EUC form sets the high bits (JIS X 0212 after 0x8F).
                if (i + 1 >= raw.size()) return std::nullopt;
                if (g0 == Set::Jis0212 && !add(g0, static_cast<char>(0x8F))) return std::nullopt;
                if (!add(g0, static_cast<char>(c | 0x80))) return std::nullopt;
                if (!add(g0, static_cast<char>(static_cast<unsigned char>(raw[++i]) | 0x80))) return std::nullopt;
                continue;
            }
            if (!add(g0 == Set::JisRoman ? Set::JisRoman : Set::Ascii, static_cast<char>(c))) return std::nullopt;
            continue;
        }
        if (g1 == Set::Unknown || !add(g1, static_cast<char>(c))) return std::nullopt;
    }
    if (!flush()) return std::nullopt;
    if (!is_valid_utf8(out)) return std::nullopt;
    return out;
}

}  // namespace deid
