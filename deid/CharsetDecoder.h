// Decodes DICOM text in the character sets DCMTK's iconv-based converter cannot (ISO 2022 IR 87
// and IR 159, Japanese kanji, as DCMTK 3.6.7 on Debian reports) with ICU converters: the value is
// split at its ISO 2022 escape sequences and each run converted by its own code table (JIS X 0208
// and 0212 through EUC-JP, KS X 1001 through EUC-KR, GB 2312 through EUC-CN, the ISO 8859 parts,
// JIS X 0201). Delimiters (CR, LF, FF, TAB, '\', and '^' '=' in person names) return to the
// initial code elements, as PS3.5 6.1.2.5.3 says.
#pragma once

#include <optional>
#include <string>

namespace deid {

// `specific_character_set` as in (0008,0005), e.g. "\ISO 2022 IR 87" or "ISO 2022 IR 13\ISO 2022 IR 87".
// Returns UTF-8, or nothing when a code element is unknown or the bytes are not valid in it.
std::optional<std::string> decode_iso2022(const std::string& raw, const std::string& specific_character_set,
                                          bool person_name);

}  // namespace deid
