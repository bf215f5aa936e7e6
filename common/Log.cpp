#include "common/Log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <regex>

#include <nlohmann/json.hpp>

namespace common {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{false};
std::mutex g_mutex;
std::string g_target;  // the file stderr was opened on, if any

const char* name(Level level) {
    switch (level) {
        case Level::debug: return "DEBUG";
        case Level::info: return "INFO";
        case Level::warning: return "WARN";
        case Level::error: return "ERROR";
    }
    return "?";
}

const char* json_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "?";
}

// The ids a message names: spool ids (Spool::new_id), association ids, new UIDs.
nlohmann::json ids_in(const std::string& message) {
    static const std::regex spool(R"(\b\d{13}-\d{6}-[0-9a-f]{4}\b)");
    static const std::regex association(R"(\bassoc-\d+\b)");
    static const std::regex uid(R"(\b2\.25\.\d+\b)");
    nlohmann::json ids = nlohmann::json::object();
    auto collect = [&](const std::regex& re, const char* key) {
        for (std::sregex_iterator it(message.begin(), message.end(), re), end; it != end; ++it)
            ids[key].push_back(it->str());
    };
    collect(spool, "spool");
    collect(association, "association");
    collect(uid, "uid");
    return ids;
}
// Control characters (and a backslash, so the escaping is unambiguous) of a whole message.
std::string one_line(const std::string& message) {
    bool clean = true;
    for (unsigned char c : message)
        if (c < 0x20 || c == 0x7f) clean = false;
    return clean ? message : printable(message, message.size());
}
}  // namespace

std::string printable(const std::string& value, std::size_t limit) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::min(value.size(), limit) + 8);
    for (std::size_t i = 0; i < value.size() && i < limit; ++i) {
        const unsigned char c = static_cast<unsigned char>(value[i]);
        if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (value.size() > limit) out += "...";
    return out;
}

void set_log_level(const std::string& level) {
    Level l = Level::info;
    if (level == "debug") l = Level::debug;
    else if (level == "warning") l = Level::warning;
    else if (level == "error") l = Level::error;
    g_level = static_cast<int>(l);
}

void set_log_format(const std::string& format) { g_json = format == "json"; }

bool log_enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void log(Level level, const std::string& component, const std::string& message) {
    if (!log_enabled(level)) return;
    using namespace std::chrono;
    const auto now = system_clock::now();
    const std::time_t t = system_clock::to_time_t(now);
    const int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    if (g_json) {
        const nlohmann::json line = {{"time", stamp}, {"level", json_name(level)}, {"component", component},
                                     {"event", message}, {"ids", ids_in(message)}};
        // Invalid UTF-8 is replaced, never thrown about (messages are ASCII by design).
        const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::lock_guard<std::mutex> lock(g_mutex);
        std::fprintf(stderr, "%s\n", text.c_str());
        std::fflush(stderr);
        return;
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "%s %-5s %s: %s\n", stamp, name(level), component.c_str(), one_line(message).c_str());
    std::fflush(stderr);
}

void remember_log_target() {
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/fd/2", buf, sizeof buf - 1);
    if (n <= 0 || buf[0] != '/') return;
    std::lock_guard<std::mutex> lock(g_mutex);
    g_target.assign(buf, static_cast<std::size_t>(n));
}

bool reopen_log() {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_target.empty()) return false;
    const int fd = ::open(g_target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return false;
    std::fflush(stderr);
    const bool ok = ::dup2(fd, STDERR_FILENO) >= 0;
    ::close(fd);
    return ok;
}

}  // namespace common
