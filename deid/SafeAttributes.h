// The allow-list side of the profile: standard attributes that are not in Table E.1-1 and are
// known to be safe. Non-text VRs (numbers, codes strings, binary, sequences) are safe unless the
// table says otherwise; text, date, time and UID values are removed unless listed here.
#pragma once

#include <cstdint>
#include <string>

namespace deid {

// Text attributes (LO, SH, ST, LT, UT, UC, UR, DT, TM, ...) kept as they are: equipment, technique,
// coded-concept and display attributes that research needs and that carry no identity.
bool is_safe_text_attribute(std::uint16_t group, std::uint16_t element);

// UI attributes whose values name classes, schemes or syntaxes (not instances): never replaced.
bool is_class_uid_attribute(std::uint16_t group, std::uint16_t element);

// Type 1 / Type 2 knowledge used to resolve compound action codes (X/Z, X/D, Z/D, X/Z/D):
// returns 1, 2 or 3 (3 = optional, the default). The SOP class and `enhanced` (multi-frame
// functional groups present) select the IOD-specific types.
int attribute_type(std::uint16_t group, std::uint16_t element, const std::string& sop_class_uid, bool enhanced);

// Descriptors whose words are titles of a procedure, a series or a protocol (Study / Series
// Description, Protocol Name, Performed / Scheduled Procedure Step Description, Requested
// Procedure Description, ...): cleaned with the descriptor policy (TextCleaner::Scope::Descriptor).
// Comments and other narrative text (Image Comments, Additional Patient History) are not.
bool is_descriptor_attribute(std::uint16_t group, std::uint16_t element);

// Free-text attributes that are Type 2 where they occur: emptied (or cleaned with
// clean_descriptors) instead of removed, so the object stays valid.
bool is_type2_text_attribute(std::uint16_t group, std::uint16_t element);

}  // namespace deid
