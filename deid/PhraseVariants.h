// Other ways a site writes the same address or institution, shared by the cleaner and the
// verifier: abbreviations both ways ("Rd" / "Road", "St" / "Street" / "Saint", "Str." / "Straße",
// "Hosp" / "Hospital", ...), a possessive dropped ("St Mary's" / "St Mary"), and the phrase's
// distinctive words on their own (for another word order), without the generic ones
// ("hospital", "street", "north", ...) that would match unrelated text.
#pragma once

#include <string>
#include <vector>

namespace deid {

// The phrase itself first, then its variants (at most 32), as written text (not folded).
std::vector<std::string> phrase_variants(const std::string& phrase);

// The folded (deid::fold) words of at least 4 characters that are not generic words of addresses
// or institutions.
std::vector<std::string> distinctive_words(const std::string& phrase);

// True for a generic word of addresses, institutions, titles or clinical text (folded form).
bool is_generic_word(const std::string& folded_word);

}  // namespace deid
