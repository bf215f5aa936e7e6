// What the gateway does on SIGHUP: a list of hooks that features register (reload the log level,
// reopen a log file, re-read certificates, ...). Running them logs each failure and goes on with
// the others: a SIGHUP never ends the process.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace common {

class ReloadHooks {
public:
    using Hook = std::function<void()>;
    void add(std::string name, Hook hook);
    // Runs every hook in the order added; returns how many threw (each is logged by name).
    int run_all();
    std::vector<std::string> names() const;

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, Hook>> hooks_;
};

}  // namespace common
