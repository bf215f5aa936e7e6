// The serve command's monitoring: the metrics registry the stages report to, a probe thread
// (every second: the broker's health and round trip, a test write into the spool, free disk, the
// quarantine by reason), and the HTTP endpoint (docs/monitoring.md) when http.port is not 0. The
// broker's supervisor (keystore/BrokerProcess) restarts a broker that died; its up() flag makes
// readiness follow at once. It only observes: nothing here decides the fate of an instance.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "config/Config.h"
#include "http/HttpServer.h"
#include "http/StatusSnapshot.h"
#include "metrics/GatewayMetrics.h"
#include "metrics/Registry.h"

namespace keystore {
class BrokerProcess;
}

namespace forward {
class Forwarder;
}
namespace spool {
class Spool;
}

namespace gateway {

class Monitoring {
public:
    Monitoring(const config::Config& config, spool::Spool& spool, keystore::BrokerProcess& broker);
    ~Monitoring();  // stop()

    metrics::GatewayMetrics& metrics() { return metrics_; }

    // Set once the stages exist, before start().
    void watch(const std::map<std::string, std::unique_ptr<forward::Forwarder>>* forwarders) { forwarders_ = forwarders; }
    void set_listener(std::function<http::ListenerStatus()> listener) { listener_ = std::move(listener); }

    // Runs the first probe, starts the probe thread and (http.port != 0) the HTTP server.
    std::error_code start();
    int http_port() const;  // 0 when off
    void stop();

    http::StatusSnapshot snapshot() const;

    static constexpr std::chrono::seconds kProbeInterval{1};

private:
    void probe();
    void run();

    const config::Config& config_;
    spool::Spool& spool_;
    keystore::BrokerProcess& broker_;
    metrics::Registry registry_;
    metrics::GatewayMetrics metrics_;
    const std::map<std::string, std::unique_ptr<forward::Forwarder>>* forwarders_ = nullptr;
    std::function<http::ListenerStatus()> listener_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    http::BrokerStatus broker_status_;
    http::SpoolStatus spool_status_;
    std::map<std::string, std::uint64_t> quarantine_;
    bool broker_up_before_ = true;  // probe thread only
    std::thread thread_;

    std::unique_ptr<http::Endpoint> endpoint_;
    std::unique_ptr<http::HttpServer> server_;
};

}  // namespace gateway
