#include "deid/PhraseVariants.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "deid/TextNormaliser.h"

namespace deid {

namespace {

// Folded word -> the other folded words written for it.
const std::unordered_map<std::string, std::vector<std::string>>& aliases() {
    static const std::unordered_map<std::string, std::vector<std::string>> m = [] {
        const std::vector<std::vector<std::string>> groups = {
            {"street", "st", "str"}, {"saint", "st", "ste", "san", "sankt", "sint"}, {"road", "rd"},
            {"avenue", "ave", "av"}, {"boulevard", "blvd"}, {"drive", "dr"}, {"lane", "ln"}, {"court", "ct"},
            {"place", "pl"}, {"square", "sq"}, {"highway", "hwy"}, {"mount", "mt"}, {"fort", "ft"},
            {"north", "n"}, {"south", "s"}, {"east", "e"}, {"west", "w"}, {"apartment", "apt"},
            {"strasse", "str"}, {"platz", "pl"}, {"hospital", "hosp"}, {"university", "univ", "uni"},
            {"center", "centre", "ctr", "cntr"}, {"medical", "med"}, {"general", "gen"},
            {"department", "dept"}, {"institute", "inst"}, {"clinic", "clin"}, {"and", "&"},
            {"rue", "r"}, {"calle", "c"}, {"doctor", "dr"},
        };
        std::unordered_map<std::string, std::vector<std::string>> out;
        for (const auto& g : groups)
            for (const std::string& a : g)
                for (const std::string& b : g)
                    if (a != b) out[a].push_back(b);
        return out;
    }();
    return m;
}

// Words of a phrase split at ASCII blanks and punctuation (non-ASCII bytes stay in words).
std::vector<std::string> words_of(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s + " ") {
        const unsigned char c = static_cast<unsigned char>(ch);
        const bool word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '&';
        if (word) {
            cur += ch;
        } else if (!cur.empty()) {
            out.push_back(cur);
            cur.clear();
        }
    }
    return out;
}

}  // namespace

bool is_generic_word(const std::string& w) {
    static const std::unordered_set<std::string> s = {
        // institutions
        "hospital", "hosp", "clinic", "clinics", "clinique", "klinik", "klinikum", "kliniken", "hopital", "ospedale",
        "hospitales", "ziekenhuis", "krankenhaus", "sykehus", "sjukhus", "szpital", "bolnitsa", "university",
        "universite", "universitat", "universidad", "universita", "universitair", "univ", "college", "school",
        "center", "centre", "centrum", "zentrum", "centro", "medical", "medicine", "medisch", "medizinisches",
        "health", "healthcare", "general", "memorial", "regional", "national", "royal", "community", "county",
        "children", "childrens", "womens", "city", "central", "trust", "foundation", "care", "diagnostic",
        "diagnostics", "imaging", "radiology", "radiologie", "institute", "institut", "instituto", "department",
        "services", "service", "group", "practice", "unit", "infirmary", "sanatorium", "campus", "network",
        "system", "systems", "saint", "sankt", "santa", "sint", "mount", "valley", "district", "heart", "cancer",
        "research", "academic", "teaching", "specialist", "private", "public", "main", "site", "building",
        // addresses
        "street", "road", "avenue", "boulevard", "drive", "lane", "court", "place", "square", "highway",
        "strasse", "platz", "gasse", "allee", "rue", "calle", "avenida", "plaza", "via", "viale", "straat",
        "laan", "weg", "gracht", "plein", "north", "south", "east", "west", "upper", "lower", "floor", "suite",
        "apartment", "room", "block", "house", "unit", "box", "post", "office", "park", "gardens", "green",
        "hill", "close", "crescent", "terrace", "usa", "united", "states", "kingdom", "deutschland", "germany",
        "france", "espana", "spain", "italia", "italy", "nederland", "netherlands", "england",
    };
    return s.count(w) > 0;
}

std::vector<std::string> phrase_variants(const std::string& phrase) {
    std::vector<std::string> out = {phrase};
    auto add = [&](const std::string& v) {
        if (out.size() < 32 && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    };
    // Possessives dropped: "St Mary's Hospital" -> "St Mary Hospital".
    for (const char* apostrophe : {"'s", "\xE2\x80\x99s"}) {
        std::string v = phrase;
        for (std::size_t p = v.find(apostrophe); p != std::string::npos; p = v.find(apostrophe, p)) v.erase(p, std::string(apostrophe).size());
        if (v != phrase) add(v);
    }
    // Each alias of each word, then every aliasable word replaced by its first alias together.
    const std::vector<std::string> words = words_of(out.back());
    // Each word's aliases (null: none), looked up once.
    std::vector<const std::vector<std::string>*> alias_of;
    for (const std::string& w : words) {
        auto it = aliases().find(fold(w));
        alias_of.push_back(it == aliases().end() ? nullptr : &it->second);
    }
    auto joined = [&](std::size_t i, const std::string& with) {
        std::string v;
        for (std::size_t k = 0; k < words.size(); ++k) v += (k ? " " : "") + (k == i ? with : words[k]);
        return v;
    };
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (!alias_of[i]) continue;
        for (const std::string& alias : *alias_of[i]) add(joined(i, alias));
    }
    // All at once, for each choice of the first word's alias ("N Main St" -> "North Main Street").
    for (int choice = 0; choice < 3; ++choice) {
        std::string v;
        bool any = false;
        for (std::size_t k = 0; k < words.size(); ++k) {
            const std::vector<std::string>* a = alias_of[k];
            std::string w = words[k];
            if (a && !a->empty()) {
                w = (*a)[std::min<std::size_t>(static_cast<std::size_t>(choice), a->size() - 1)];
                any = true;
            }
            v += (k ? " " : "") + w;
        }
        if (any) add(v);
    }
    return out;
}

std::vector<std::string> distinctive_words(const std::string& phrase) {
    std::vector<std::string> out;
    for (const std::string& w : words_of(phrase)) {
        const std::string f = fold(w);
        if (f.size() < 4 || is_generic_word(f)) continue;
        // Numbers (house numbers, postcodes) are left to the patterns and to the whole phrase.
        if (f.find_first_not_of("0123456789") == std::string::npos) continue;
        if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    }
    return out;
}

}  // namespace deid
