#include "deid/Ps315Table.h"

#include "deid/DcmValues.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace deid {

namespace {
using A = Ps315Action;
#include "deid/Ps315Table.inc"

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Trimmed of the padding a creator element may carry.
struct Index {
    std::unordered_map<std::uint32_t, const Ps315Row*> exact;  // looked up for every element of every instance
    std::vector<const Ps315Row*> masked;
    const Ps315Row* private_row = nullptr;
    std::map<std::pair<std::uint32_t, std::string>, const Ps315SafePrivate*> safe_private;
    Index() {
        for (const Ps315Row& r : kPs315Rows) {
            if (r.private_row) private_row = &r;
            else if (r.group_mask == 0xFFFF && r.element_mask == 0xFFFF)
                exact[(std::uint32_t(r.group) << 16) | r.element] = &r;
            else masked.push_back(&r);
        }
        for (const Ps315SafePrivate& p : kPs315SafePrivate)
            safe_private[{(std::uint32_t(p.group) << 8) | p.element_low, lower(p.private_creator)}] = &p;
    }
};

const Index& index() {
    static const Index i;
    return i;
}
}  // namespace

const char* ps315_edition() { return PS315_EDITION; }

const Ps315Row* find_ps315_row(std::uint16_t group, std::uint16_t element) {
    const Index& i = index();
    auto it = i.exact.find((std::uint32_t(group) << 16) | element);
    if (it != i.exact.end()) return it->second;
    for (const Ps315Row* r : i.masked)
        if ((group & r->group_mask) == r->group && (element & r->element_mask) == r->element) {
            // Repeating groups (50xx, 60xx) are the even groups 0x..00-0x..1E only.
            if (r->group_mask == 0xFF00 && ((group & 0x00FF) > 0x1E || (group & 1))) continue;
            return r;
        }
    return nullptr;
}

const Ps315Row& ps315_private_row() { return *index().private_row; }

bool is_safe_private(std::uint16_t group, std::uint8_t element_low, const std::string& private_creator) {
    const Index& i = index();
    return i.safe_private.count({(std::uint32_t(group) << 8) | element_low, lower(trim(private_creator))}) > 0;
}

std::size_t ps315_row_count() { return sizeof(kPs315Rows) / sizeof(kPs315Rows[0]); }
std::size_t ps315_safe_private_count() { return sizeof(kPs315SafePrivate) / sizeof(kPs315SafePrivate[0]); }

const char* to_string(Ps315Action a) {
    switch (a) {
        case A::None: return "";
        case A::D: return "D";
        case A::Z: return "Z";
        case A::X: return "X";
        case A::K: return "K";
        case A::C: return "C";
        case A::U: return "U";
        case A::XZ: return "X/Z";
        case A::XD: return "X/D";
        case A::ZD: return "Z/D";
        case A::XZD: return "X/Z/D";
        case A::XZU: return "X/Z/U*";
    }
    return "?";
}

}  // namespace deid
