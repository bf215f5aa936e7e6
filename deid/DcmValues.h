// How deid/ reads a value out of DCMTK, in one place: padding (spaces, tabs, line ends, NUL) trimmed
// from both ends, a missing element read as an empty string, multiple values kept with their
// backslashes. Internal to deid/.
#pragma once

#include <cstddef>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>

namespace deid {

// `s` without leading and trailing spaces, tabs, CR, LF and NUL.
std::string trim(const std::string& s);

// All values of the element (backslash-separated), trimmed; empty when absent or unreadable.
std::string string_value(DcmItem& item, const DcmTagKey& tag);

// string_value of each of `tags` (n of them, any order), read in one walk of the item's own
// elements instead of one search per tag: out[i] for tags[i].
void string_values(DcmItem& item, const DcmTagKey* tags, std::size_t n, std::string* out);

// All values of `element` as DCMTK gives them, not trimmed; empty when unreadable.
std::string element_value(DcmElement* element);

}  // namespace deid
