#include "deid/DcmValues.h"

namespace deid {

namespace {
constexpr char kPadding[] = " \t\r\n\0";
constexpr std::size_t kPaddingLength = sizeof kPadding - 1;  // the NUL included
}  // namespace

std::string trim(const std::string& s) {
    const std::size_t b = s.find_first_not_of(kPadding, 0, kPaddingLength);
    if (b == std::string::npos) return {};
    const std::size_t e = s.find_last_not_of(kPadding, std::string::npos, kPaddingLength);
    return s.substr(b, e - b + 1);
}

std::string string_value(DcmItem& item, const DcmTagKey& tag) {
    OFString v;
    if (item.findAndGetOFStringArray(tag, v).bad()) return {};
    return trim(std::string(v.c_str(), v.length()));
}

void string_values(DcmItem& item, const DcmTagKey* tags, std::size_t n, std::string* out) {
    std::size_t left = n;
    for (std::size_t i = 0; i < n; ++i) out[i].clear();
    for (DcmObject* o = item.nextInContainer(nullptr); o && left > 0; o = item.nextInContainer(o)) {
        const DcmTagKey t = o->getTag();
        for (std::size_t i = 0; i < n; ++i) {
            if (t != tags[i]) continue;
            // As findAndGetOFStringArray: an element's values; a sequence or an unreadable value gives none.
            if (o->isLeaf()) {
                OFString v;
                if (static_cast<DcmElement*>(o)->getOFStringArray(v).good())
                    out[i] = trim(std::string(v.c_str(), v.length()));
            }
            --left;
            break;
        }
    }
}

std::string element_value(DcmElement* element) {
    OFString v;
    if (!element || element->getOFStringArray(v).bad()) return {};
    return std::string(v.c_str(), v.length());
}

}  // namespace deid
