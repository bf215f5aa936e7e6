// How dimse/ reads a value out of DCMTK: the one place that trims DICOM padding (trailing spaces
// and NULs, leading spaces) and turns a missing element into an empty string. Internal to dimse/.
#pragma once

#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcitem.h>

namespace dimse {

// `value` without DICOM padding.
std::string trimmed(const char* value);

// The element's value as a string without padding; empty when absent or unreadable.
std::string string_value(DcmItem& item, const DcmTagKey& tag);

}  // namespace dimse
