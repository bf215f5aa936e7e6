// Identifiers that no header element holds, found by their shape, shared by the cleaner and the
// verifier: e-mail addresses, URLs, phone numbers (international and national formats), national
// identifiers (US SSN; UK NHS number, mod 11; Dutch BSN, 11-proof; German Steuer-ID, ISO 7064;
// French NIR, mod 97; Danish CPR; Swedish personnummer, Luhn), postcodes (UK, Canadian, Dutch,
// US ZIP+4), street addresses ("12 Baker St", "Hauptstraße 5", "12 rue de la Paix"), and people
// named after a title or a relation word ("Dr. Ng", "wife Maria", "Hausarzt Dr. Weber",
// "son épouse Claire", "李先生"). Names are removed, the title or relation word stays.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace deid {

enum class PatternKind { Email, Url, Phone, NationalId, Postcode, Address, PersonAfterTitle };

const char* pattern_name(PatternKind kind);  // "email", "url", "phone", ... (a category, never a value)

struct PatternMatch {
    std::size_t begin = 0, end = 0;  // original bytes [begin, end)
    PatternKind kind;
};

// Every match in `text` (UTF-8), sorted by position, overlaps allowed. Each detector runs only
// when the text has what every match of it needs ('@', "://", enough digits, ...).
std::vector<PatternMatch> find_patterns(const std::string& text);

}  // namespace deid
