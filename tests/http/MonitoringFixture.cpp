#include "tests/http/MonitoringFixture.h"

#include <filesystem>
#include <thread>

namespace montest {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json with_http(json overrides, int port) {
    overrides["http"] = {{"bind", "127.0.0.1"}, {"port", port}};
    return overrides;
}
}  // namespace

MonitoredGateway::MonitoredGateway(const json& overrides, int port)
    : gwtest::Gateway(with_http(overrides, port)), http_port(port) {}

http::GetResult MonitoredGateway::get(const std::string& target) const {
    return http::get("127.0.0.1", http_port, target, std::chrono::seconds(10));
}

json MonitoredGateway::status() const {
    const auto r = get("/status.json");
    if (r.status != 200) return nullptr;
    return json::parse(r.body, nullptr, false);
}

bool MonitoredGateway::wait_ready(std::chrono::seconds limit) const {
    return eventually([&] { return get("/readyz").status == 200; }, limit);
}

bool eventually(const std::function<bool()>& f, std::chrono::seconds limit, std::chrono::milliseconds step) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f()) return true;
        std::this_thread::sleep_for(step);
    }
    return f();
}

pid_t child_named(pid_t parent, const std::string& name) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = testsupport::read_file(e.path().string() + "/stat");
        const auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) continue;
        const std::string comm = stat.substr(open + 1, close - open - 1);
        // After ") " come the state and the parent pid.
        const long ppid = std::strtol(stat.c_str() + close + 4, nullptr, 10);
        if (ppid == parent && comm == name) return static_cast<pid_t>(std::stol(pid));
    }
    return -1;
}

json down_destination(const std::string& name) {
    return {{"name", name}, {"ae_title", "NOBODY"}, {"host", "127.0.0.1"}, {"port", testsupport::free_port()},
            {"associations", 1}};
}

}  // namespace montest
