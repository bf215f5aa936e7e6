// The current time as the gateway writes it in records and on the status page: ISO 8601 UTC to
// the second, e.g. "2026-12-01T14:03:07Z".
#pragma once

#include <string>

namespace common {

std::string iso_now();

}  // namespace common
