// The one text normalisation shared by the cleaner (deid/TextCleaner.h) and the verifier
// (deid/Verifier.h), with ICU: full case folding, compatibility normalisation (NFKC: full-width
// forms, ligatures), diacritics folded (NFD without combining marks), Latin letters that do not
// decompose (ø, ł, æ, đ) and Greek and Cyrillic letters transliterated to ASCII, and separators
// (spaces, apostrophes, hyphens, dots, commas, ...) dropped. So "D'Souza", "DSOUZA" and "d souza"
// fold to "dsouza", "Anne-Marie" and "ANNEMARIE" to "annemarie", "Müller" to "muller", "Иванов"
// to "ivanov". CJK characters (Han, kana, Hangul) stay as they are (case folded): every one of
// them is a word of its own, so a Korean name written without spaces is found inside a sentence.
//
// A FoldedText keeps, for each byte of its folded form, where it came from in the original text,
// so a match in the folded form removes the right original bytes. Pure ASCII text never reaches
// ICU (a per-byte path). Thread-safe: ICU transliterators run once, to fill a table, under
// std::call_once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deid {

class FoldedText {
public:
    // `utf8` must be UTF-8; use decode_unlabelled() first for text of unknown encoding.
    explicit FoldedText(const std::string& utf8);

    const std::string& folded() const { return folded_; }
    // The original bytes [begin, end) that folded bytes [pos, pos + len) came from.
    std::size_t source_begin(std::size_t pos) const { return begin_[pos]; }
    std::size_t source_end(std::size_t pos, std::size_t len) const { return end_[pos + len - 1]; }

    // Every occurrence of `term` (already folded) that starts and ends at a word boundary.
    // strict: a boundary is a separator, the text's start or end, or a CJK character; otherwise a
    // change between letters and digits counts too ("MRN12345" holds the id "12345").
    // Positions are into folded().
    std::vector<std::size_t> find_all(const std::string& term, bool strict) const;
    bool contains(const std::string& term, bool strict) const { return !find_all(term, strict).empty(); }
    // A plain substring anywhere (for long phrases and CJK terms).
    bool contains_anywhere(const std::string& term) const { return folded_.find(term) != std::string::npos; }

private:
    bool boundary_at(std::size_t pos, bool strict) const;  // between folded bytes pos-1 and pos
    std::string folded_;
    std::vector<std::uint32_t> begin_, end_;  // per folded byte: its code point's original span
    // Per folded byte: 1 = a word starts here after a separator, the start or a CJK character;
    // 2 = it starts at a letter/digit change; 4 = the byte belongs to a CJK character.
    std::vector<std::uint8_t> flags_;
};

// The folded form of a term (as FoldedText would fold it).
std::string fold(const std::string& utf8);

// The folded forms a written term may take: fold(term), the German/Nordic transliteration of its
// umlauts and ligatures (ü -> ue, ö -> oe, ä -> ae, å -> aa, ø -> oe, æ -> ae; ß -> ss is in the
// folding already), and the reverse for a term written that way ("MUELLER" -> "muller" too).
std::vector<std::string> fold_variants(const std::string& utf8);

// True when every byte is below 0x80.
bool is_ascii(const std::string& s);
// True when `s` is well-formed UTF-8.
bool is_valid_utf8(const std::string& s);
// Text whose character set is not declared: valid UTF-8 is taken as UTF-8, anything else as
// ISO 8859-1 (each byte one code point), re-encoded to UTF-8.
std::string decode_unlabelled(const std::string& raw);
// Every reading of text whose character set is not declared, for matching: decode_unlabelled()
// first, then (when different) each well-formed UTF-8 sequence as UTF-8 with every other byte as
// ISO 8859-1 (a value that mixes both), then the whole value as ISO 8859-1. ASCII: one reading.
std::vector<std::string> unlabelled_readings(const std::string& raw);
// ISO 8859-1 bytes to UTF-8.
std::string latin1_to_utf8(const std::string& raw);
// True for a Han, kana or Hangul code point.
bool is_cjk(std::uint32_t cp);

}  // namespace deid
