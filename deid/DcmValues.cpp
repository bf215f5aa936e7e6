#include "deid/DcmValues.h"

#include <cstring>

namespace deid {

namespace {
constexpr char kPadding[] = " \t\r\n\0";
constexpr std::size_t kPaddingLength = sizeof kPadding - 1;  // the NUL included

// The VRs whose DCMTK classes derive from DcmByteString (DCMTK 3.6.7, dcmdata/libsrc/dcvr*.cc).
bool is_byte_string_vr(DcmEVR vr) {
    switch (vr) {
    case EVR_AE: case EVR_AS: case EVR_CS: case EVR_DA: case EVR_DS: case EVR_DT: case EVR_IS:
    case EVR_LO: case EVR_LT: case EVR_PN: case EVR_SH: case EVR_ST: case EVR_TM: case EVR_UC:
    case EVR_UI: case EVR_UR: case EVR_UT:
        return true;
    default:
        return false;
    }
}

// What getOFStringArray(value) gives, read the cheap way where that is the same thing. DCMTK's
// normalisation there splits a string value at its backslashes, removes spaces (a UI's NULs)
// around each part as its VR says and joins the parts again: about 1,700 instructions for a
// short value, where copying its bytes takes about 100. A string value whose bytes hold no space
// and no NUL comes out of it unchanged, so those bytes are the answer; any other value, and any
// other VR, is read DCMTK's own way (tests/deid/engine: every element of the third-party corpus).
bool array_value(DcmElement& element, std::string& out) {
    if (is_byte_string_vr(element.ident())) {
        char* p = nullptr;
        Uint32 length = 0;
        if (element.getString(p, length).good()) {
            if (!p || length == 0) {
                out.clear();
                return true;
            }
            if (!std::memchr(p, ' ', length) && !std::memchr(p, '\0', length)) {
                out.assign(p, length);
                return true;
            }
        }
    }
    OFString v;
    if (element.getOFStringArray(v).bad()) return false;
    out.assign(v.c_str(), v.length());
    return true;
}
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
                std::string v;
                if (array_value(*static_cast<DcmElement*>(o), v)) out[i] = trim(v);
            }
            --left;
            break;
        }
    }
}

std::string element_value(DcmElement* element) {
    std::string v;
    if (!element || !array_value(*element, v)) return {};
    return v;
}

}  // namespace deid
