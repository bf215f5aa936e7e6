// The status page (`/`) and `deid-gateway status`: the same snapshot as server-rendered HTML
// (no script, no framework; readable on a phone; refreshes itself every `refresh_seconds`) and as
// plain text for a terminal. Every value is escaped; none comes from a data set.
#pragma once

#include <string>

#include "http/StatusSnapshot.h"

namespace http {

std::string render_html(const StatusSnapshot& snapshot, int refresh_seconds = 5);
std::string render_text(const StatusSnapshot& snapshot);

}  // namespace http
