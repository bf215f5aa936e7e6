// Helpers for the monitoring tests that run the real gateway: its HTTP endpoint on an ephemeral
// port, bounded polls for a state change, its broker child found through /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "http/HttpClient.h"
#include "tests/gateway/GatewayFixture.h"

namespace montest {

// A gateway whose HTTP endpoint is on, on a free port.
struct MonitoredGateway : gwtest::Gateway {
    int http_port;
    explicit MonitoredGateway(const nlohmann::json& overrides = nlohmann::json::object(),
                              int port = testsupport::free_port());
    http::GetResult get(const std::string& target) const;
    nlohmann::json status() const;  // /status.json, or null
    // Until /readyz says ready (true) or the limit passes.
    bool wait_ready(std::chrono::seconds limit = std::chrono::seconds(30)) const;
};

// Calls `f` every `step` until it returns true or the limit passes.
bool eventually(const std::function<bool()>& f, std::chrono::seconds limit,
                std::chrono::milliseconds step = std::chrono::milliseconds(200));

// The pid of a child of `parent` whose command name is `name`, or -1.
pid_t child_named(pid_t parent, const std::string& name);

// A DICOM destination at a port where nothing listens.
nlohmann::json down_destination(const std::string& name);

}  // namespace montest
