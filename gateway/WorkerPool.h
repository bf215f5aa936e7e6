// De-identification workers: a Boost.Asio thread_pool of config.workers threads, one
// deid::InstanceDeidentifier (and one pseudonym source connection) per thread. Each instance in
// spool/incoming/ is de-identified into tmp/, routed, linked into outgoing/<dest>/ and only then
// removed from incoming/. Outcome Retry (broker down) leaves it in incoming/ and tries again with
// backoff: nothing is ever forwarded with a missing pseudonym.
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
#include "gateway/Forwarder.h"
#include "gateway/Router.h"
#include "gateway/Spool.h"

namespace gateway {

class WorkerPool {
public:
    using SourceFactory = std::function<std::unique_ptr<deid::PseudonymSource>()>;
    // `timers` runs the retry timers (the serve command's io_context).
    WorkerPool(const config::Config& config, Spool& spool, const Router& router,
               std::map<std::string, Forwarder*> forwarders, SourceFactory sources, boost::asio::io_context& timers);
    ~WorkerPool();

    void submit(const SpoolEntry& entry);  // ignored when already in hand
    void stop();                           // running instances finish; the rest stays in incoming/
    std::size_t in_hand() const;

private:
    struct Worker {
        std::unique_ptr<deid::PseudonymSource> source;
        std::unique_ptr<deid::InstanceDeidentifier> deidentifier;
    };
    void post(const SpoolEntry& entry, int attempt);
    void process(const SpoolEntry& entry, int attempt);
    void retry_later(const SpoolEntry& entry, int attempt, const std::string& why);
    Worker& worker();

    const config::Config& config_;
    Spool& spool_;
    const Router& router_;
    std::map<std::string, Forwarder*> forwarders_;
    SourceFactory sources_;
    boost::asio::io_context& timers_;
    boost::asio::thread_pool pool_;
    mutable std::mutex mutex_;
    std::set<std::string> in_hand_;
    std::map<std::thread::id, std::unique_ptr<Worker>> workers_;
    bool stopping_ = false;
};

}  // namespace gateway
