// The gateway's log: one line per event on stderr, as text "<UTC time> <LEVEL> <component>: <message>"
// or (log.format json) one JSON object per line:
//   {"time":"...Z","level":"info","component":"receive","event":"<message>","ids":{"spool":[...],"association":[...],"uid":[...]}}
// where ids are the spool ids, association ids and new (2.25.) UIDs the message names.
// Messages carry association ids, spool ids and pseudonymous UIDs, never a PHI value.
// The broker (deid-keystore) writes the same format (keystore/main.cpp sets it up the same way).
#pragma once

#include <cstddef>
#include <string>

namespace common {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

void set_log_level(const std::string& level);  // debug | info | warning | error
void set_log_format(const std::string& format);  // text | json
bool log_enabled(Level level);
// In text format a message's control characters are written escaped (see printable), so one call
// is always one line, whatever a peer put into the values it names.
void log(Level level, const std::string& component, const std::string& message);

// A peer-supplied value (AE title, address, certificate subject) made safe to put into a log line:
// bytes below 0x20, 0x7f and above are written as \xNN and a backslash as \\, so a newline in a
// calling AE title cannot start a forged line. At most `limit` input bytes (then "...").
std::string printable(const std::string& value, std::size_t limit = 128);

// For logrotate: remember_log_target() notes the file stderr was opened on (when it is a regular
// file, e.g. `2>>/var/log/deid/gateway.log` or systemd's StandardError=append:); reopen_log()
// (on SIGHUP) opens that path again and puts it on stderr, so the next line goes to the new file.
// False when stderr is not a file (a terminal, a pipe, the journal) or the open failed.
void remember_log_target();
bool reopen_log();

}  // namespace common
