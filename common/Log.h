// The gateway's log: one line per event on stderr, "<UTC time> <LEVEL> <component>: <message>".
// Messages carry association ids, spool ids and pseudonymous UIDs, never a PHI value.
#pragma once

#include <string>

namespace common {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

void set_log_level(const std::string& level);  // debug | info | warning | error
bool log_enabled(Level level);
void log(Level level, const std::string& component, const std::string& message);

}  // namespace common
