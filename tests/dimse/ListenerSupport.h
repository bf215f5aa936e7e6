// Test support for the listener tests (hostile clients, TLS): a handler that counts what it is given
// and keeps nothing, and the StoreScp's log lines collected for assertions.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "dimse/CStoreRequest.h"
#include "dimse/DimseStatus.h"
#include "dimse/StoreScp.h"

namespace listenertest {

class CountingHandler : public dimse::CStoreHandler {
public:
    std::uint16_t handle_store(dimse::CStoreRequest& r) override {
        std::filesystem::remove(r.file_path);
        ++stored;
        return dimse::DimseStatus::Success;
    }
    std::atomic<int> stored{0};
};

class LogLines {
public:
    dimse::LogSink sink() {
        return [this](dimse::LogLevel, const std::string& m) {
            std::lock_guard<std::mutex> lock(mutex_);
            lines_.push_back(m);
        };
    }
    std::vector<std::string> lines() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return lines_;
    }
    std::string all() const {
        std::string s;
        for (const auto& l : lines()) s += l + "\n";
        return s;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

}  // namespace listenertest
