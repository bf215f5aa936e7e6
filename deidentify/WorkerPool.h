// De-identification workers: a Boost.Asio thread_pool of config.workers threads, one
// deid::InstanceDeidentifier (and one pseudonym source connection) per thread. Each instance in
// spool/incoming/ is de-identified into tmp/ (not synced), routed and linked into outgoing/<dest>/
// (moved, for the last destination);
// the incoming original is removed only when every destination is done with it
// (destination_done), so a crash before that simply de-identifies it again. Outcome Retry (broker
// down) leaves it in incoming/ and tries again with backoff: nothing is ever forwarded with a
// missing pseudonym.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/Config.h"
#include "deid/InstanceDeidentifier.h"
#include "deid/PseudonymSource.h"
#include "forward/Forwarder.h"
#include "spool/ParsedInstance.h"
#include "spool/Router.h"
#include "spool/Spool.h"

namespace deidentify {

class WorkerPool {
public:
    using SourceFactory = std::function<std::unique_ptr<deid::PseudonymSource>()>;
    // `timers` runs the retry timers (the serve command's io_context).
    // `budget` (may be null) bounds the de-identified instances handed to forwarders in memory.
    WorkerPool(const config::Config& config, spool::Spool& spool, const spool::Router& router,
               std::map<std::string, forward::Forwarder*> forwarders, SourceFactory sources, boost::asio::io_context& timers,
               spool::ParsedBudget* budget = nullptr);
    ~WorkerPool();

    // Ignored when already in hand. `parsed`, when given, is the incoming file already parsed by
    // the reception: de-identified in memory instead of reading the file (first attempt only).
    void submit(const spool::SpoolEntry& entry, spool::ParsedInstance parsed = {});
    // A destination delivered (or quarantined) an instance; the last one removes it from incoming/.
    void destination_done(const std::string& destination, const std::string& id);
    void stop();                           // running instances finish; the rest stays in incoming/
    std::size_t in_hand() const;

private:
    struct Worker {
        std::unique_ptr<deid::PseudonymSource> source;
        std::unique_ptr<deid::InstanceDeidentifier> deidentifier;
    };
    void post(const spool::SpoolEntry& entry, int attempt, spool::ParsedInstance parsed = {});
    void process(const spool::SpoolEntry& entry, int attempt, spool::ParsedInstance parsed);
    void retry_later(const spool::SpoolEntry& entry, int attempt, const std::string& why);
    Worker& worker();

    const config::Config& config_;
    spool::Spool& spool_;
    const spool::Router& router_;
    std::map<std::string, forward::Forwarder*> forwarders_;
    SourceFactory sources_;
    boost::asio::io_context& timers_;
    spool::ParsedBudget* budget_;
    boost::asio::thread_pool pool_;
    mutable std::mutex mutex_;
    std::set<std::string> in_hand_;  // being de-identified, or waiting for its destinations
    struct Pending {
        spool::SpoolEntry entry;
        std::set<std::string> destinations;  // not yet done
    };
    std::map<std::string, Pending> pending_;
    std::map<std::thread::id, std::unique_ptr<Worker>> workers_;
    bool stopping_ = false;
};

}  // namespace deidentify
