// deid-gateway status [--json]: what the status page shows, read from the running gateway's HTTP
// endpoint (/status.json at http.bind:http.port of the same config). Exit 0 when the gateway
// answers and is ready, 1 when it is not ready or does not answer, 2 when http.port is 0.
#include <iostream>

#include "gateway/Commands.h"
#include "http/HttpClient.h"
#include "http/StatusPage.h"
#include "http/StatusSnapshot.h"

namespace gateway {

int run_status(const config::Config& cfg, bool as_json) {
    if (cfg.http.port == 0) {
        std::cerr << "deid-gateway status: the HTTP endpoint is off in this config (http.port is 0)\n";
        return 2;
    }
    // A gateway listening on every address answers on loopback too.
    const std::string host = cfg.http.bind == "0.0.0.0" ? "127.0.0.1" : cfg.http.bind == "::" ? "::1" : cfg.http.bind;
    const std::string where = "http://" + host + ":" + std::to_string(cfg.http.port) + "/status.json";
    const auto r = http::get(host, cfg.http.port, "/status.json", std::chrono::seconds(10));
    if (r.error) {
        std::cerr << "deid-gateway status: no answer from " << where << ": " << r.error.message()
                  << " (is deid-gateway serve running with this config?)\n";
        return 1;
    }
    if (r.status != 200) {
        std::cerr << "deid-gateway status: " << where << " answered HTTP " << r.status << "\n";
        return 1;
    }
    http::StatusSnapshot snapshot;
    try {
        snapshot = nlohmann::json::parse(r.body).get<http::StatusSnapshot>();
    } catch (const std::exception&) {
        std::cerr << "deid-gateway status: " << where << " did not answer a gateway status\n";
        return 1;
    }
    if (as_json) std::cout << nlohmann::json(snapshot).dump(2) << "\n";
    else std::cout << http::render_text(snapshot);
    return http::readiness(snapshot).ready ? 0 : 1;
}

}  // namespace gateway
