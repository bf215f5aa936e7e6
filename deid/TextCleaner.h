// Clean Descriptors / Clean Structured Content / Clean Graphics for free text: keeps the useful
// text and replaces the identifying parts by "[removed]".
//   "CT CHEST W CONTRAST for JOHN DOE, MRN 12345, prior 03/19/2022"
//   -> "CT CHEST W CONTRAST for [removed], MRN [removed], prior [removed]"
// What is removed: every identifying value of the instance itself (each name component, full
// names in the usual written orders, ids, accession number, its dates in the usual written forms,
// institution and staff names), then what patterns find: dates, phone numbers and id-like tokens
// (five or more digits, or four digits mixed with letters). Text is UTF-8.
#pragma once

#include <string>
#include <vector>

namespace deid {

class TextCleaner {
public:
    static constexpr const char* kRemoved = "[removed]";

    // A person name as DICOM PN (family^given^middle^prefix^suffix, "=" groups allowed).
    void add_person_name(const std::string& pn);
    // An identifier (Patient ID, Accession Number, ...); shorter than 3 characters is ignored.
    void add_identifier(const std::string& id);
    // A whole phrase (institution name, address, station name); shorter than 3 characters is ignored.
    void add_phrase(const std::string& phrase);
    // A DICOM date YYYYMMDD; its usual written forms are removed as well.
    void add_date(const std::string& da);

    std::string clean(const std::string& text) const;
    bool empty() const { return terms_.empty(); }

private:
    void add_term(const std::string& term, std::size_t min_length);
    void add_folded_term(std::string term, std::size_t min_length);  // already trimmed and lower-case
    std::vector<std::string> terms_;  // lower-case (ASCII folding), longest first
    std::vector<std::string> dates_;  // YYYYMMDD already added
};

}  // namespace deid
