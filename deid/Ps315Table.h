// The PS3.15 Annex E tables compiled into the build: Table E.1-1 (actions per attribute, basic
// profile and every option column) and Table E.3.10-1 (safe private attributes).
// Generated from deid/ps315/ by scripts/gen_ps315_table.py into deid/Ps315Table.inc.
#pragma once

#include <cstdint>
#include <string>

namespace deid {

// The action codes of Table E.1-1a. None = the column is empty for that attribute.
enum class Ps315Action : std::uint8_t { None, D, Z, X, K, C, U, XZ, XD, ZD, XZD, XZU };

// Option columns of Table E.1-1, in the table's order.
enum class Ps315Option : std::uint8_t {
    RetainSafePrivate, RetainUids, RetainDeviceIdentity, RetainInstitutionIdentity,
    RetainPatientCharacteristics, RetainLongFullDates, RetainLongModifiedDates,
    CleanDescriptors, CleanStructuredContent, CleanGraphics, Count
};

struct Ps315Row {
    std::uint16_t group, group_mask, element, element_mask;
    bool private_row;  // "(gggg,eeee) where gggg is odd"
    bool retired;
    const char* name;
    Ps315Action basic;
    Ps315Action options[static_cast<int>(Ps315Option::Count)];
};

struct Ps315SafePrivate {
    std::uint16_t group;
    std::uint8_t element_low;  // the "ee" of (gggg,xxee)
    const char* private_creator;
    const char* vr;
};

// The edition the table was generated from, e.g. "2024c".
const char* ps315_edition();

// The row for a public attribute (exact tags first, then repeating groups such as (60xx,3000)),
// or nullptr when the attribute is not in Table E.1-1.
const Ps315Row* find_ps315_row(std::uint16_t group, std::uint16_t element);
// The "Private Attributes" row.
const Ps315Row& ps315_private_row();

// Whether Table E.3.10-1 lists (group, xx element_low) for this private creator (case-insensitive).
bool is_safe_private(std::uint16_t group, std::uint8_t element_low, const std::string& private_creator);

// Number of rows (for tests).
std::size_t ps315_row_count();
std::size_t ps315_safe_private_count();

// "D", "X/Z/U*", ... for logs and docs.
const char* to_string(Ps315Action a);

}  // namespace deid
