#include "common/ReloadHooks.h"

#include <exception>

#include "common/Log.h"

namespace common {

void ReloadHooks::add(std::string name, Hook hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    hooks_.emplace_back(std::move(name), std::move(hook));
}

int ReloadHooks::run_all() {
    std::vector<std::pair<std::string, Hook>> hooks;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        hooks = hooks_;
    }
    int failed = 0;
    for (auto& [name, hook] : hooks) {
        try {
            hook();
        } catch (const std::exception& e) {
            ++failed;
            log(Level::error, "reload", name + " failed: " + e.what());
        } catch (...) {
            ++failed;
            log(Level::error, "reload", name + " failed");
        }
    }
    return failed;
}

std::vector<std::string> ReloadHooks::names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& h : hooks_) out.push_back(h.first);
    return out;
}

}  // namespace common
