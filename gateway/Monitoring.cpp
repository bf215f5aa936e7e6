#include "gateway/Monitoring.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/IsoTime.h"
#include "common/Log.h"
#include "forward/Forwarder.h"
#include "keystore/BrokerConnection.h"
#include "keystore/BrokerProcess.h"
#include "spool/Spool.h"

namespace gateway {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds Monitoring::kProbeInterval;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::vector<std::string> destination_names(const config::Config& c) {
    std::vector<std::string> names;
    for (const auto& d : c.destinations) names.push_back(d.name);
    return names;
}

}  // namespace

Monitoring::Monitoring(const config::Config& config, spool::Spool& spool, keystore::BrokerProcess& broker)
    : config_(config),
      spool_(spool),
      broker_(broker),
      metrics_(registry_, destination_names(config), config::version()) {
    registry_.add_collect_hook([this] {
        const auto s = snapshot();
        for (const auto& d : s.destinations) metrics_.queue(d.name, d.queue_depth, d.oldest_queued_age_seconds);
        metrics_.spool(s.spool.bytes, s.spool.free_bytes);
        metrics::GatewayMetrics::Durability d;
        d.by_journal = spool_.durable_by_journal();
        d.by_file = spool_.durable_by_file();
        d.incoming_files_written = spool_.incoming_files_made();
        if (const auto* journal = spool_.journal()) {
            d.checkpoints = journal->checkpoints();
            d.checkpoint_failures = journal->checkpoint_failures();
        }
        metrics_.durability(d);
    });
}

Monitoring::~Monitoring() { stop(); }

std::error_code Monitoring::start() {
    probe();
    thread_ = std::thread([this] { run(); });
    if (config_.http.port == 0) return {};
    endpoint_ = std::make_unique<http::Endpoint>(registry_, [this] { return snapshot(); });
    server_ = std::make_unique<http::HttpServer>(http::ServerSettings{config_.http.bind, config_.http.port, 32}, *endpoint_);
    return server_->start();
}

int Monitoring::http_port() const { return server_ ? server_->port() : 0; }

void Monitoring::stop() {
    if (server_) server_->stop();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Monitoring::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        cv_.wait_for(lock, kProbeInterval);
        if (stopping_) break;
        lock.unlock();
        probe();
        lock.lock();
    }
}

void Monitoring::probe() {
    // The broker: one health request on a fresh connection, bounded.
    http::BrokerStatus b;
    double broker_alarms = 0;  // the broker's count of keystore.alarm alarms (docs/keystore.md)
    b.checked_at = common::iso_now();
    const auto t0 = Clock::now();
    try {
        keystore::BrokerConnection c(broker_.socket_path(), std::chrono::seconds(2));
        const auto reply = c.request({{"op", "health"}});
        b.up = reply.is_object() && reply.value("ok", false);
        if (!b.up) b.problem = "the broker answered its health request with an error";
        if (b.up && reply.contains("alarms") && reply["alarms"].is_number()) broker_alarms = reply["alarms"].get<double>();
    } catch (const std::exception&) {
        b.up = false;
        b.problem = "no answer to a health request within 2 s";
    }
    const double rtt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (b.up) b.round_trip_ms = rtt * 1000;
    // The supervisor (keystore/BrokerProcess) knows at once when its child died; until the
    // restarted one answers, the broker is down whatever the last probe saw.
    if (b.up && !broker_.up()) {
        b.up = false;
        b.problem = "the keystore broker exited; it is being started again";
    }
    if (!b.up && broker_up_before_) common::log(common::Level::warning, "monitor", "the keystore broker does not answer: " + b.problem);
    broker_up_before_ = b.up;
    metrics_.broker(b.up, rtt, broker_alarms);

    // The spool: a real write into tmp/, the limits, free disk.
    http::SpoolStatus s;
    const std::string probe_path = spool_.tmp_dir() + "/.monitor-probe";
    const int fd = ::open(probe_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        s.writable = ::write(fd, "x", 1) == 1;
        if (!s.writable) s.problem = std::string("cannot write into the spool: ") + std::strerror(errno);
        ::close(fd);
        ::unlink(probe_path.c_str());
    } else {
        s.problem = std::string("cannot create a file in the spool: ") + std::strerror(errno);
    }
    std::string why;
    s.has_room = spool_.has_room(0, &why);
    if (!s.has_room && s.problem.empty()) s.problem = why;
    s.bytes = spool_.bytes_held();
    struct statvfs vfs {};
    if (::statvfs(spool_.root().c_str(), &vfs) == 0) s.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;

    // The quarantine by reason: quarantine/<reason>/<id>/.
    std::map<std::string, std::uint64_t> q;
    std::error_code ec;
    for (fs::directory_iterator r(spool_.quarantine_dir(), ec), end; !ec && r != end; r.increment(ec)) {
        if (!r->is_directory(ec)) continue;
        std::uint64_t n = 0;
        for (fs::directory_iterator i(r->path(), ec), e2; !ec && i != e2; i.increment(ec))
            if (i->is_directory(ec)) ++n;
        ec.clear();
        if (n) q[r->path().filename().string()] = n;
    }

    std::lock_guard<std::mutex> lock(mutex_);
    broker_status_ = b;
    spool_status_ = s;
    quarantine_ = std::move(q);
}

http::StatusSnapshot Monitoring::snapshot() const {
    http::StatusSnapshot s;
    s.version = config::version();
    s.generated_at = common::iso_now();
    s.uptime_seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    if (listener_) s.listener = listener_();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        s.broker = broker_status_;
        if (s.broker.up && !broker_.up()) {
            s.broker.up = false;
            s.broker.problem = "the keystore broker exited; it is being started again";
        }
        s.spool = spool_status_;
        s.quarantine = quarantine_;
    }
    const auto now = now_ms();
    for (const auto& d : config_.destinations) {
        http::DestinationStatus ds;
        ds.name = d.name;
        ds.kind = d.is_folder() ? "folder" : "dicom";
        const auto rec = metrics_.destination(d.name);
        ds.state = rec.failing ? http::DestinationState::failing : http::DestinationState::ok;
        ds.delivered = rec.delivered;
        ds.failed = rec.failed;
        ds.last_success = rec.last_success;
        ds.last_error = rec.last_error;
        ds.last_error_at = rec.last_error_at;
        if (forwarders_) {
            const auto it = forwarders_->find(d.name);
            if (it != forwarders_->end()) {
                ds.queue_depth = it->second->depth();
                const auto oldest = it->second->oldest_received_ms();
                if (oldest > 0 && now > oldest) ds.oldest_queued_age_seconds = static_cast<double>(now - oldest) / 1000.0;
            }
        }
        s.destinations.push_back(ds);
    }
    for (const auto& r : metrics_.throughput()) s.throughput.push_back({r.what, r.last_1m, r.last_5m, r.last_15m});
    return s;
}

}  // namespace gateway
