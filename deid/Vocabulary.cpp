#include "deid/Vocabulary.h"

#include <iterator>
#include <string_view>
#include <unordered_set>

namespace deid {

namespace {

const char* const kWords[] = {
#include "deid/vocabulary/Vocabulary.inc"
};

struct DefinedTerm {
    std::uint16_t group, element;
    const char* value;
};
const DefinedTerm kDefinedTerms[] = {
#include "deid/vocabulary/DefinedTerms.inc"
};

constexpr std::uint32_t key(std::uint16_t g, std::uint16_t e) { return (std::uint32_t(g) << 16) | e; }

const std::unordered_set<std::string_view>& words() {
    static const std::unordered_set<std::string_view> s(std::begin(kWords), std::end(kWords));
    return s;
}

struct Terms {
    std::unordered_set<std::uint32_t> tags;
    std::unordered_set<std::string> terms;  // "ggggeeee\tVALUE" as 4 key bytes + value
};

std::string term_key(std::uint32_t k, const std::string& v) {
    std::string s(reinterpret_cast<const char*>(&k), sizeof k);
    return s + v;
}

const Terms& terms() {
    static const Terms t = [] {
        Terms r;
        for (const DefinedTerm& d : kDefinedTerms) {
            r.tags.insert(key(d.group, d.element));
            r.terms.insert(term_key(key(d.group, d.element), d.value));
        }
        return r;
    }();
    return t;
}

}  // namespace

bool is_clinical_word(const std::string& folded) { return words().count(folded) > 0; }

bool has_defined_terms(std::uint16_t group, std::uint16_t element) {
    return terms().tags.count(key(group, element)) > 0;
}

bool is_defined_term(std::uint16_t group, std::uint16_t element, const std::string& value) {
    if (value.empty()) return false;
    return terms().terms.count(term_key(key(group, element), value)) > 0;
}

}  // namespace deid
