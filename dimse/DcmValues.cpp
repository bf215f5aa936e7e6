#include "dimse/DcmValues.h"

namespace dimse {

std::string trimmed(const char* value) {
    std::string s = value ? value : "";
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    const std::size_t first = s.find_first_not_of(' ');
    return first == std::string::npos ? std::string() : s.substr(first);
}

std::string string_value(DcmItem& item, const DcmTagKey& tag) {
    OFString v;
    if (item.findAndGetOFString(tag, v).bad()) return {};
    return trimmed(v.c_str());
}

}  // namespace dimse
