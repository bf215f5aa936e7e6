// deid-gateway serve: wires the stages together (receive -> spool -> de-identify -> forward) and
// runs until SIGTERM/SIGINT.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

#include "dimse/DimseError.h"
#include "dimse/StoreScp.h"
#include "dimse/Tls.h"
#include "gateway/Commands.h"
#include "forward/DicomSender.h"
#include "forward/FolderSender.h"
#include "forward/TlsLayerSource.h"
#include "forward/Forwarder.h"
#include "common/Log.h"
#include "common/ReloadHooks.h"
#include "gateway/Monitoring.h"
#include "spool/Router.h"
#include "spool/Spool.h"
#include "receive/SpoolingStoreHandler.h"
#include "deidentify/WorkerPool.h"
#include "keystore/BrokerClient.h"
#include "keystore/BrokerProcess.h"

namespace gateway {

namespace {
// Received files up to this size are parsed whole by the reception and handed on in memory: up to
// 256 KiB from the copy of their bytes kept while they were written (dimse/StoreScp.cpp), larger
// ones from the file just written. A 512x512 CT (about 530 kB) or RGB image is, so the worker does
// not read the spooled file again (DcmFileFormat::loadFile, 285k instructions per 512x512 CT in
// callgrind). Larger files are read by the worker. Memory: an association holds at most one such
// parsed file before it is handed on; handed on, a parsed instance holds a share of
// kParsedBudgetBytes, which bounds all of them together however long the queues get (over it, the
// parsed data set is dropped and the next stage reads the file). So at most
// listen.max_associations x 1 MiB while files are parsed, plus the budget. The worker's output goes
// to the forwarder in memory whatever its size, within the same budget.
constexpr std::uint64_t kKeepParsedBytes = 1024 * 1024;
constexpr std::uint64_t kParsedBudgetBytes = 64ull << 20;

void dimse_log(dimse::LogLevel level, const std::string& message) {
    using common::Level;
    Level l = Level::info;
    if (level == dimse::LogLevel::debug) l = Level::debug;
    if (level == dimse::LogLevel::warning) l = Level::warning;
    if (level == dimse::LogLevel::error) l = Level::error;
    common::log(l, "dimse", message);
}

// The TLS listener's settings from listen.tls (the config has checked the spellings).
std::shared_ptr<const dimse::TlsSettings> listen_tls(const config::ListenTls& t) {
    auto s = std::make_shared<dimse::TlsSettings>();
    s->certificate = t.certificate;
    s->private_key = t.private_key;
    s->trusted_certificates = t.trusted_certificates;
    s->verify_peer = t.require_client_certificate;
    dimse::parse_tls_version(t.min_version, s->min_version);
    dimse::parse_tls_profile(t.profile, s->profile);
    return s;
}

// make_tls_layer's error names the file; the message names the key that gave it.
std::string tls_error_with_key(const config::ListenTls& t, const std::string& error) {
    auto starts = [&](const std::string& path) { return !path.empty() && error.rfind(path, 0) == 0; };
    if (starts(t.private_key)) return "listen.tls.private_key: " + error;
    if (starts(t.certificate)) return "listen.tls.certificate: " + error;
    if (starts(t.trusted_certificates)) return "listen.tls.trusted_certificates: " + error;
    return "listen.tls: " + error;
}

}  // namespace

int run_serve(const config::Config& cfg) {
    common::set_log_level(cfg.log.level);
    common::set_log_format(cfg.log.format);
    common::remember_log_target();
    // DCMTK's own messages only at debug level: a parser error may quote raw bytes of a received
    // file (possibly PHI) as a "tag"; the gateway logs every failure itself, by id and reason.
    OFLog::configure(cfg.log.level == "debug" ? OFLogger::WARN_LOG_LEVEL : OFLogger::FATAL_LOG_LEVEL);

    std::vector<std::string> names;
    for (const auto& d : cfg.destinations) names.push_back(d.name);
    spool::Spool spool(cfg.spool_dir(), cfg.spool);
    if (const auto ec = spool.prepare(names)) {
        std::cerr << "deid-gateway serve: cannot prepare the spool under " << cfg.spool_dir() << ": " << ec.message()
                  << "\n";
        return 1;
    }
    if (spool.journal_restored() > 0)
        common::log(common::Level::info, "serve",
                    "reception journal: " + std::to_string(spool.journal_restored()) +
                        " acknowledged instances written into incoming from their records (held without a file, "
                        "or lost or torn in a crash)");
    if (const auto ec = spool.journal_unavailable())
        common::log(common::Level::warning, "serve",
                    "the reception journal (spool.journal_bytes) cannot be created: " + ec.message() +
                        "; every reception is made durable by its own file's fdatasync and a folder fsync");

    std::unique_ptr<keystore::BrokerProcess> broker;
    try {
        broker = std::make_unique<keystore::BrokerProcess>(cfg);
    } catch (const std::exception& e) {
        std::cerr << "deid-gateway serve: cannot start the keystore broker: " << e.what() << "\n";
        common::log(common::Level::error, "serve", std::string("cannot start the keystore broker: ") + e.what());
        return 1;
    }
    const std::string socket_path = broker->socket_path();
    if (broker->child_pid() > 0)
        common::log(common::Level::info, "serve", "keystore broker started (pid " + std::to_string(broker->child_pid()) + ")");
    // Observes every stage; its probe and HTTP endpoint start once the listener is up.
    Monitoring monitoring(cfg, spool, *broker);

    // Instances handed from stage to stage in memory (each parsed once), up to this much at once;
    // declared before the stages, so it outlives every lease they hold.
    spool::ParsedBudget parsed_budget(kParsedBudgetBytes);
    std::map<std::string, std::unique_ptr<forward::Forwarder>> forwarders;
    std::vector<std::shared_ptr<forward::TlsLayerSource>> tls_sources;  // read again on SIGHUP
    for (std::size_t i = 0; i < cfg.destinations.size(); ++i) {
        const config::Destination& d = cfg.destinations[i];
        forward::Forwarder::SenderFactory factory;
        int threads = 1;
        if (d.is_folder()) {
            factory = [dir = d.directory](int) { return std::make_unique<forward::FolderSender>(dir); };
            threads = std::max(1, std::min(d.associations, 2));
        } else {
            // destinations[i].tls: its files are checked now, the layer shared by the senders.
            std::string tls_error;
            std::shared_ptr<forward::TlsLayerSource> tls =
                forward::TlsLayerSource::make(d, "destinations[" + std::to_string(i) + "].tls", tls_error);
            if (tls) tls_sources.push_back(tls);
            if (!tls_error.empty()) {
                std::cerr << "deid-gateway serve: " << tls_error << "\n";
                common::log(common::Level::error, "serve", tls_error);
                return 1;
            }
            // Extra associations must be accepted promptly (forward/Forwarder.h).
            factory = [d, &cfg, tls](int index) {
                return std::make_unique<forward::DicomSender>(d, cfg, index > 0 ? forward::Forwarder::kPromptSeconds : 0,
                                                              tls);
            };
            threads = std::max(1, d.associations);
        }
        auto f = std::make_unique<forward::Forwarder>(d.name, threads, cfg.retry, spool, factory);
        f->set_metrics(&monitoring.metrics());
        forwarders[d.name] = std::move(f);
    }
    spool::Router router(cfg.destinations);
    boost::asio::io_context io;
    // The stages meet only through the spool: the pool listens for incoming instances, each
    // forwarder for its destination's outgoing ones.
    deidentify::WorkerPool pool(cfg, spool, router,
                                [socket_path] { return std::make_unique<keystore::BrokerClient>(socket_path); }, io,
                                &parsed_budget);
    receive::SpoolingStoreHandler handler(spool, &parsed_budget);
    pool.set_metrics(&monitoring.metrics());
    dimse::ScpSettings settings;
    settings.ae_title = cfg.listen.ae_title;
    settings.bind = cfg.listen.bind;
    settings.port = cfg.listen.port == 0 ? -1 : cfg.listen.port;  // 0: TLS only
    if (cfg.listen.tls.enabled) {
        settings.tls_port = cfg.listen.tls.port;
        settings.tls = listen_tls(cfg.listen.tls);
    }
    settings.allowed_calling_ae = cfg.listen.allowed_calling_ae;
    for (const auto& k : cfg.listen.known_callers)
        settings.known_callers.push_back(dimse::KnownCaller{k.ae_title, k.host, k.certificate_subject});
    settings.limits.connections_per_host = cfg.listen.limits.connections_per_host;
    settings.limits.associations_per_host = cfg.listen.limits.associations_per_host;
    settings.limits.associations_per_calling_ae = cfg.listen.limits.associations_per_calling_ae;
    settings.limits.first_pdu_timeout_seconds = cfg.listen.limits.first_pdu_timeout_seconds;
    settings.max_associations = cfg.listen.max_associations;
    settings.acse_timeout_seconds = cfg.listen.acse_timeout_seconds;
    settings.dimse_timeout_seconds = cfg.listen.dimse_timeout_seconds;
    settings.receive_dir = spool.tmp_dir();
    settings.prepare_receive_file = [&spool](const std::string& path) { spool.reuse_file_for(path); };
    settings.keep_parsed_bytes = kKeepParsedBytes;
    // Files the reception journal takes need no early write-back (its checkpoint writes them), and
    // those are received into memory: their record is their only copy until a stage needs a file
    // (docs/operations.md, Durability 1).
    if (spool.journal()) {
        settings.start_write_back_above_bytes = spool.journal()->max_record_bytes();
        settings.memory_bytes = spool.journal()->max_record_bytes();
    }
    settings.log = dimse_log;
    settings.on_association = [&monitoring](bool accepted) { monitoring.metrics().association(accepted); };
    settings.on_aborted = [&monitoring] { monitoring.metrics().association_aborted(); };
    settings.on_response = [&monitoring](std::uint16_t status) { monitoring.metrics().cstore(status); };
    // Every refused connection or association is counted, by reason; the log has a bounded rate.
    settings.on_refused = [&monitoring](dimse::Refusal why) {
        monitoring.metrics()
            .registry()
            .counter("deid_listener_refusals_total",
                     "Connections and association requests the listener refused, by reason", {{"reason", dimse::slug(why)}})
            .inc();
    };
    handler.set_metrics(&monitoring.metrics());
    dimse::StoreScp scp(settings, handler);
    if (const auto ec = scp.start()) {
        if (ec == dimse::DimseError::tls_setup_failed) {
            const std::string why = tls_error_with_key(cfg.listen.tls, scp.tls_error());
            std::cerr << "deid-gateway serve: cannot start the TLS listener: " << why << "\n";
            common::log(common::Level::error, "serve", "cannot start the TLS listener: " + why);
        } else {
            std::cerr << "deid-gateway serve: cannot listen on " << cfg.listen.bind << ":" << cfg.listen.port << ": "
                      << ec.message() << "\n";
        }
        pool.stop();
        return 1;
    }
    monitoring.watch(&forwarders);
    monitoring.set_listener([&scp, &cfg] {
        return http::ListenerStatus{scp.accepting(), cfg.listen.ae_title,
                                    cfg.listen.bind, scp.port() ? scp.port() : scp.tls_port(), scp.active_associations()};
    });
    if (const auto ec = monitoring.start()) {
        std::cerr << "deid-gateway serve: cannot serve HTTP on " << cfg.http.bind << ":" << cfg.http.port << ": "
                  << ec.message() << " (set http.port to another port, or 0 to turn the endpoint off)\n";
        pool.stop();
        return 1;
    }
    // On a terminal (./run.sh) the address is also printed plainly; the log line below always has it.
    if (monitoring.http_port() && ::isatty(STDOUT_FILENO) == 1)
        std::cout << "deid-gateway serve: status page http://" << cfg.http.bind << ":" << monitoring.http_port()
                  << "/ (metrics at /metrics, readiness at /readyz)" << std::endl;
    for (auto& [name, f] : forwarders) f->start();
    const auto pending_in = spool.list_incoming().size();
    spool.sweep();
    common::log(common::Level::info, "serve",
        "ready: " + cfg.listen.ae_title + " on " + cfg.listen.bind + ":" +
            (scp.port() ? std::to_string(scp.port()) : std::string("-")) +
            (scp.tls_port() ? " and TLS " + cfg.listen.bind + ":" + std::to_string(scp.tls_port()) : std::string()) + ", " +
            std::to_string(cfg.workers) + " workers, " + std::to_string(cfg.destinations.size()) +
            " destinations, " + std::to_string(pending_in) + " instances picked up from incoming" +
            (monitoring.http_port() ? "; status page http://" + cfg.http.bind + ":" + std::to_string(monitoring.http_port()) + "/"
                                    : std::string("; HTTP endpoint off")));

    boost::asio::steady_timer sweeper(io);
    std::function<void()> schedule_sweep = [&] {
        sweeper.expires_after(std::chrono::seconds(5));
        sweeper.async_wait([&](const boost::system::error_code& ec) {
            if (ec) return;
            spool.sweep();
            schedule_sweep();
        });
    };
    schedule_sweep();

    // SIGHUP runs the reload hooks (features add theirs); it never ends the process.
    common::ReloadHooks reload_hooks;
    reload_hooks.add("log level", [&cfg] {
        if (cfg.source_path.empty()) return;  // the embedded default: nothing to re-read
        const config::Config fresh = config::load(cfg.source_path);  // throws with the problems named
        common::set_log_level(fresh.log.level);
        common::log(common::Level::info, "reload", "log level " + fresh.log.level + " (from " + cfg.source_path + ")");
    });
    // Certificate rotation: the listener's TLS files are read again; the next association uses
    // them, running ones finish with theirs. Unusable files are logged and the old ones stay.
    if (cfg.listen.tls.enabled)
        reload_hooks.add("TLS certificates", [&scp, &cfg] {
            if (!scp.reload_tls())
                throw std::runtime_error(tls_error_with_key(cfg.listen.tls, scp.tls_error()) +
                                         " (the previous certificate stays in use)");
            common::log(common::Level::info, "reload", "TLS listener: certificate, key and trusted certificates read again");
        });
    boost::asio::signal_set hangup(io, SIGHUP);
    std::function<void()> on_hangup = [&] {
        hangup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            common::log(common::Level::info, "serve", "received SIGHUP: running the reload hooks");
            reload_hooks.run_all();
            on_hangup();
        });
    };
    // The log file (logrotate): opened again under its name, here and in the own broker.
    reload_hooks.add("log file", [&broker] {
        const bool reopened = common::reopen_log();
        if (broker->child_pid() > 0) ::kill(static_cast<pid_t>(broker->child_pid()), SIGHUP);
        common::log(common::Level::info, "serve", reopened ? "SIGHUP: log file reopened" : "SIGHUP: the log is not a file; nothing to reopen");
    });
    // Destination certificates and keys (destinations[].tls): read again; the next association
    // uses them, running ones finish on the previous layer; files that do not check out keep it.
    reload_hooks.add("destination TLS", [&tls_sources] {
        for (const auto& source : tls_sources) {
            std::string error;
            if (source->reload(error))
                common::log(common::Level::info, "reload",
                            source->key_path() + ": certificates and key read again; new associations use them");
            else
                common::log(common::Level::error, "reload", error + "; the previous certificates stay in use");
        }
    });
    on_hangup();

    // The broker is supervised: a child that dies is reported and started again; meanwhile the
    // workers' requests fail, so instances wait in incoming/ (Outcome Retry) until it answers.
    broker->supervise([](keystore::BrokerProcess::Event event, const std::string& message) {
        common::log(event == keystore::BrokerProcess::Event::restarted ? common::Level::info : common::Level::error,
                    "broker", message);
    });

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
        if (ec) return;
        const auto timeout = std::chrono::seconds(cfg.shutdown_timeout_seconds);
        common::log(common::Level::info, "serve",
            std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                ": no new associations; waiting up to " + std::to_string(cfg.shutdown_timeout_seconds) +
                " s for running ones");
        // Whatever a peer does (a trickle of bytes keeps DCMTK reading), the process ends within
        // the timeout and a short grace: nothing unacknowledged is lost, the spool is durable.
        std::thread([timeout] {
            std::this_thread::sleep_for(timeout + std::chrono::seconds(3));
            common::log(common::Level::error, "serve",
                "shutdown took longer than shutdown_timeout_seconds: exiting without waiting for the rest");
            std::_Exit(1);
        }).detach();
        scp.stop_accepting();
        if (!scp.wait_idle(timeout)) {
            common::log(common::Level::warning, "serve", std::to_string(scp.active_associations()) + " associations still running: aborting them");
            scp.abort_all();
            scp.wait_idle(std::chrono::seconds(2));
        }
        sweeper.cancel();
        hangup.cancel();
        io.stop();
    });

    // The io_context runs the signal handler, the sweeps and the de-identification retry timers.
    io.run();
    monitoring.stop();
    pool.stop();
    for (auto& [name, f] : forwarders) f->stop();
    common::log(common::Level::info, "serve",
        "stopped; " + std::to_string(spool.list_incoming().size()) + " instances wait in incoming for the next start");
    return 0;
}

}  // namespace gateway
