// Clean Descriptors / Clean Structured Content / Clean Graphics for free text: keeps the useful
// text and replaces the identifying parts by "[removed]".
//   "CT CHEST W CONTRAST for JOHN DOE, MRN 12345, prior 03/19/2022"
//   -> "CT CHEST W CONTRAST for [removed], MRN [removed], prior [removed]"
// What is removed: every identifying value of the instance itself (each name component, full
// names in the usual written orders, ids, accession number, its dates in the usual written forms,
// institution and staff names), matched after the shared normalisation (deid/TextNormaliser.h:
// case, diacritics, transliteration, punctuation and spacing do not matter, CJK names are found
// without word boundaries), then what patterns find: dates, phone numbers and id-like tokens
// (five or more digits, or four digits mixed with letters), e-mail, URLs, phone numbers, national
// ids, postcodes, addresses, people after a title (deid/PatternDetector.h), and dates in free text
// (deid/DateText.h: shifted with set_date_shift when unambiguous, else removed). Text is UTF-8.
#pragma once

#include <string>
#include <unordered_set>
#include <vector>

namespace deid {

class TextCleaner {
public:
    static constexpr const char* kRemoved = "[removed]";

    // A person name as DICOM PN (family^given^middle^prefix^suffix, "=" groups allowed).
    // `patient`: the patient's own name (Patient's Name, Other Patient Names, Birth Name, ...).
    void add_person_name(const std::string& pn, bool patient = false);
    // An identifier (Patient ID, Accession Number, ...); shorter than 3 characters is ignored.
    void add_identifier(const std::string& id);
    // A whole phrase (institution name, address, station name); shorter than 3 characters is ignored.
    void add_phrase(const std::string& phrase);
    // A DICOM date YYYYMMDD; its usual written forms are removed as well.
    void add_date(const std::string& da);

    // What clean() removes. Free: everything above (descriptions, comments, SR text). Kept: text
    // the profile keeps (allow-listed, safe private, code meanings): only person names and ids of
    // the instance (ids of 5 or more characters) and the patterns of deid/PatternDetector.h
    // (e-mail, URL, phone, national id, postcode, address, a person after a title); no dates, no
    // institution words, no id-like tokens, so "syngo MR XA20" in a model name stays as it is.
    // Descriptor: Free, then the descriptor policy (Study / Series Description, Protocol Name,
    // ...; deid/SafeAttributes.h is_descriptor_attribute): a word in Latin letters is kept only
    // when it is clinical vocabulary (deid/Vocabulary.h, also its plural in -s) or a known safe form (a number, one
    // letter, letters and digits whose letter runs are vocabulary or one letter: "T1W", "3D",
    // "b800", "5mm"); any other is removed ("CT HEAD Ibanez" -> "CT HEAD [removed]"). Words in
    // other scripts (CJK, Cyrillic, Greek, ...) are out of the vocabulary's reach and kept.
    enum class Scope { Free, Kept, Descriptor };

    // Dates found in free text are shifted by `days` (written as YYYY-MM-DD) when the text says
    // the date unambiguously, and removed otherwise. Without a shift every date is removed.
    void set_date_shift(int days) { shift_days_ = days; has_shift_ = true; }
    void clear_date_shift() { has_shift_ = false; }

    std::string clean(const std::string& text, Scope scope = Scope::Free) const;
    // The indexes into terms() of every term found in `text` (for a second reading of the same
    // bytes: deid/TextNormaliser.h unlabelled_readings).
    std::vector<std::size_t> matched_terms(const std::string& text) const;
    bool empty() const { return terms_.empty(); }

    enum class TermKind { Name, PatientName, Id, Phrase, Date };
    struct Term {
        std::string folded;  // deid::fold() form
        bool strict;         // only between separators (short names), else letter/digit changes count
        TermKind kind;
    };
    const std::vector<Term>& terms() const { return terms_; }

private:
    void add_term(const std::string& term, std::size_t min_length, TermKind kind);
    void add_folded_term(std::string folded, std::size_t min_length, TermKind kind);
    TermKind adding_ = TermKind::Name;
    int shift_days_ = 0;
    bool has_shift_ = false;
    std::vector<Term> terms_;         // in the order added (overlapping matches are merged)
    std::unordered_set<std::string> term_set_;
    std::vector<std::string> dates_;  // YYYYMMDD already added
};

}  // namespace deid
