// De-identification workers: a Boost.Asio thread_pool of config.workers threads, one
// deid::InstanceDeidentifier (and one pseudonym source connection) per thread. The pool takes each
// instance the spool hands it (Spool::on_incoming), de-identifies it into tmp/ (not synced), routes
// it and publishes the output for its destinations (Spool::publish); the spool removes the incoming
// original once every destination is done, so a crash before that simply de-identifies it again.
// Outcome Retry (broker down) keeps it in hand and tries again with backoff: nothing is ever
// forwarded with a missing pseudonym. Every task has an exception boundary: an exception
// quarantines the instance as internal-error with a log line, never ends the process.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/Config.h"
#include "deid/InstanceDeidentifier.h"
#include "deid/PseudonymSource.h"
#include "spool/InstanceRecord.h"
#include "spool/Router.h"
#include "spool/Spool.h"

namespace metrics {
class GatewayMetrics;
}

namespace deidentify {

class WorkerPool {
public:
    using SourceFactory = std::function<std::unique_ptr<deid::PseudonymSource>()>;
    // `timers` runs the retry timers (the serve command's io_context). Listens on spool.on_incoming.
    // `budget` (may be null) bounds the de-identified instances handed on in memory.
    WorkerPool(const config::Config& config, spool::Spool& spool, const spool::Router& router, SourceFactory sources,
               boost::asio::io_context& timers, spool::ParsedBudget* budget = nullptr);
    ~WorkerPool();

    // `record.parsed`, when set, is the incoming file already parsed by the reception: de-identified
    // in memory instead of reading the file (first attempt only).
    void submit(spool::InstanceRecord record);
    void stop();  // running instances finish; the rest stays in incoming/
    void set_metrics(metrics::GatewayMetrics* metrics) { metrics_ = metrics; }  // observer; may be null
    // Retries scheduled and not yet run (tests wait on it instead of sleeping).
    int retries_scheduled() const;

private:
    // Outputs up to this size go to a single destination's sender in memory (Spool::publish), as
    // the reception hands on the files it parses whole (up to the same size).
    static constexpr std::size_t kMemoryOutputBytes = 1u << 20;
    struct Worker {
        std::unique_ptr<deid::PseudonymSource> source;
        std::unique_ptr<deid::InstanceDeidentifier> deidentifier;
    };
    void post(spool::InstanceRecord record, int attempt);
    void process(spool::InstanceRecord record, int attempt);
    void process_unguarded(spool::InstanceRecord& record, int attempt);
    void retry_later(const spool::InstanceRecord& record, int attempt, const std::string& why);
    Worker& worker();

    const config::Config& config_;
    spool::Spool& spool_;
    const spool::Router& router_;
    SourceFactory sources_;
    boost::asio::io_context& timers_;
    spool::ParsedBudget* budget_;
    metrics::GatewayMetrics* metrics_ = nullptr;
    boost::asio::thread_pool pool_;
    mutable std::mutex mutex_;
    std::map<std::thread::id, std::unique_ptr<Worker>> workers_;
    int retries_scheduled_ = 0;
    bool stopping_ = false;
};

}  // namespace deidentify
