// DIMSE status codes used by the gateway, from PS3.4 Annex B (Storage Service Class) and PS3.7 C.
#pragma once

#include <cstdint>

namespace dimse {

namespace DimseStatus {
constexpr std::uint16_t Success = 0x0000;
// Failure: Refused: Out of Resources (PS3.4 B.2.3): spool full, disk full, write failed.
constexpr std::uint16_t RefusedOutOfResources = 0xA700;
// Error: Data Set does not match SOP Class.
constexpr std::uint16_t DataSetDoesNotMatchSopClass = 0xA900;
// Error: Cannot understand.
constexpr std::uint16_t CannotUnderstand = 0xC000;
// Failure: Refused: SOP Class not supported (PS3.7 C.5.18).
constexpr std::uint16_t SopClassNotSupported = 0x0122;
constexpr std::uint16_t NotAuthorized = 0x0124;
// Warnings (the instance was stored).
constexpr std::uint16_t CoercionOfDataElements = 0xB000;
constexpr std::uint16_t ElementsDiscarded = 0xB006;
constexpr std::uint16_t DataSetDoesNotMatchSopClassWarning = 0xB007;
}  // namespace DimseStatus

// Success or Warning: the peer kept the instance.
inline bool status_is_stored(std::uint16_t status) {
    return status == DimseStatus::Success || (status & 0xF000) == 0xB000;
}

}  // namespace dimse
