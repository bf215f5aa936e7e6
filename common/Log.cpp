#include "common/Log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace common {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;

const char* name(Level level) {
    switch (level) {
        case Level::debug: return "DEBUG";
        case Level::info: return "INFO";
        case Level::warning: return "WARN";
        case Level::error: return "ERROR";
    }
    return "?";
}
}  // namespace

void set_log_level(const std::string& level) {
    Level l = Level::info;
    if (level == "debug") l = Level::debug;
    else if (level == "warning") l = Level::warning;
    else if (level == "error") l = Level::error;
    g_level = static_cast<int>(l);
}

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
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fprintf(stderr, "%s %-5s %s: %s\n", stamp, name(level), component.c_str(), message.c_str());
    std::fflush(stderr);
}

}  // namespace common
