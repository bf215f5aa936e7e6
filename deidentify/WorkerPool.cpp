#include "deidentify/WorkerPool.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dimse/InstanceInfo.h"
#include "common/Log.h"
#include "common/ThreadPriority.h"

namespace deidentify {

WorkerPool::WorkerPool(const config::Config& config, spool::Spool& spool, const spool::Router& router,
                       std::map<std::string, forward::Forwarder*> forwarders, SourceFactory sources,
                       boost::asio::io_context& timers, spool::ParsedBudget* budget)
    : config_(config),
      spool_(spool),
      router_(router),
      forwarders_(std::move(forwarders)),
      sources_(std::move(sources)),
      timers_(timers),
      budget_(budget),
      pool_(static_cast<std::size_t>(std::max(1, config.workers))) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::submit(const spool::SpoolEntry& entry, spool::ParsedInstance parsed) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || !in_hand_.insert(entry.id).second) return;
    }
    post(entry, 0, std::move(parsed));
}

void WorkerPool::post(const spool::SpoolEntry& entry, int attempt, spool::ParsedInstance parsed) {
    boost::asio::post(pool_, [this, entry, attempt, parsed = std::move(parsed)]() mutable {
        process(entry, attempt, std::move(parsed));
    });
}

void WorkerPool::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    pool_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    workers_.clear();
}

std::size_t WorkerPool::in_hand() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_hand_.size();
}

WorkerPool::Worker& WorkerPool::worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = workers_[std::this_thread::get_id()];
    if (!slot) {
        common::background_thread_priority();
        slot = std::make_unique<Worker>();
        slot->source = sources_();
        slot->deidentifier = std::make_unique<deid::InstanceDeidentifier>(config_, *slot->source);
        // Outputs are derived from the durable incoming original, which stays until delivery.
        slot->deidentifier->set_durable_writes(false);
        // Written over a recycled output file (spool::Spool::reuse_output_file_for): no new inode.
        slot->deidentifier->set_write_in_place(true);
    }
    return *slot;
}

void WorkerPool::retry_later(const spool::SpoolEntry& entry, int attempt, const std::string& why) {
    long long ms = config_.retry.base_ms;
    for (int i = 0; i < attempt && ms < config_.retry.cap_ms; ++i) ms *= 2;
    ms = std::min<long long>(ms, config_.retry.cap_ms);
    common::log(common::Level::warning, "deid", entry.id + ": " + why + "; stays in incoming, retry in " + std::to_string(ms) + " ms");
    auto timer = std::make_shared<boost::asio::steady_timer>(timers_, std::chrono::milliseconds(ms));
    timer->async_wait([this, timer, entry, attempt](const boost::system::error_code& ec) {
        if (ec) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
        }
        post(entry, attempt + 1);
    });
}

void WorkerPool::process(const spool::SpoolEntry& entry, int attempt, spool::ParsedInstance parsed) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            in_hand_.erase(entry.id);
            return;
        }
    }
    auto done = [&] {
        std::lock_guard<std::mutex> lock(mutex_);
        in_hand_.erase(entry.id);
    };
    const std::string input = spool_.incoming_path(entry);
    if (::access(input.c_str(), F_OK) != 0) {  // replayed or purged meanwhile
        done();
        return;
    }
    const std::string output = spool_.tmp_dir() + "/" + entry.id + ".deid.dcm";
    deid::Outcome outcome;
    std::shared_ptr<DcmFileFormat> file = std::move(parsed.file);  // null: read from `input`
    try {
        spool_.reuse_output_file_for(output);
        outcome = worker().deidentifier->process(file, input, output, entry.calling_ae);
    } catch (const std::exception& e) {
        outcome.kind = deid::Outcome::Kind::Quarantined;
        outcome.reason = "internal-error";
        outcome.detail = "the de-identification engine failed unexpectedly";
    }
    switch (outcome.kind) {
        case deid::Outcome::Kind::Retry:
            ::unlink(output.c_str());
            retry_later(entry, attempt, outcome.detail.empty() ? "pseudonym source unavailable" : outcome.detail);
            return;  // still in hand
        case deid::Outcome::Kind::Rejected:
            ::unlink(output.c_str());
            spool_.remove_incoming(entry);
            common::log(common::Level::info, "deid", entry.id + ": rejected by the profile (" + outcome.reason + "), not forwarded");
            done();
            return;
        case deid::Outcome::Kind::Quarantined: {
            ::unlink(output.c_str());
            spool::QuarantineRecord record;
            record.id = entry.id;
            record.reason = outcome.reason.empty() ? "unknown" : outcome.reason;
            record.detail = outcome.detail;
            record.stage = "deidentify";
            record.calling_ae = entry.calling_ae;
            const auto ec = spool_.quarantine(input, record);
            common::log(common::Level::warning, "deid",
                entry.id + ": quarantined as " + record.reason + "/" + entry.id + ": " + outcome.detail +
                    (ec ? " (could not move: " + ec.message() + ")" : ""));
            done();
            return;
        }
        case deid::Outcome::Kind::Clean:
            break;
    }
    spool::RouteFacts facts{entry.calling_ae, outcome.modality, outcome.sop_class_uid, ""};
    if (router_.needs_manufacturer())
        if (auto info = dimse::read_instance_info(output)) facts.manufacturer = info->manufacturer;
    const auto destinations = router_.route(facts);
    if (!destinations.empty()) {
        // Registered before the first link: a forwarder may deliver as soon as the file is there.
        std::lock_guard<std::mutex> lock(mutex_);
        pending_[entry.id] = Pending{entry, std::set<std::string>(destinations.begin(), destinations.end())};
    }
    for (std::size_t i = 0; i < destinations.size(); ++i) {
        const bool last = i + 1 == destinations.size();
        if (const auto ec = last ? spool_.move_outgoing(output, destinations[i], entry.id)
                                 : spool_.add_outgoing(output, destinations[i], entry.id)) {
            for (std::size_t j = 0; j < i; ++j) spool_.remove_outgoing(destinations[j], entry.id);
            ::unlink(output.c_str());
            {
                std::lock_guard<std::mutex> lock(mutex_);
                pending_.erase(entry.id);
            }
            retry_later(entry, attempt, "cannot queue for " + destinations[i] + ": " + ec.message());
            return;
        }
    }
    if (destinations.empty()) ::unlink(output.c_str());  // otherwise moved to the last destination
    std::string names;
    for (const auto& d : destinations) names += (names.empty() ? "" : ",") + d;
    common::log(common::Level::info, "deid",
        entry.id + ": de-identified, study " + outcome.study_instance_uid + " series " + outcome.series_instance_uid +
            " instance " + outcome.sop_instance_uid + " -> " + (names.empty() ? "(no destination matched)" : names));
    if (destinations.empty()) {
        spool_.remove_incoming(entry);
        done();
        return;
    }
    // With one destination, its forwarder sends what was just written from memory; several
    // forwarders would share (and change) it, so they read their files.
    spool::ParsedInstance output_parsed;
    if (destinations.size() == 1 && file) {
        if (parsed.lease)  // the reception's share of the budget covers it
            output_parsed = spool::ParsedInstance{std::move(file), {}, std::move(parsed.lease)};
        else if (budget_ && outcome.output_bytes > 0)
            output_parsed = spool::hold(*budget_, std::move(file), outcome.output_bytes);
        output_parsed.transfer_syntax_uid = outcome.transfer_syntax_uid;
    }
    for (const auto& d : destinations) {
        auto it = forwarders_.find(d);
        if (it != forwarders_.end()) it->second->enqueue(entry.id, std::move(output_parsed));
    }
}

}  // namespace deidentify

namespace deidentify {

void WorkerPool::destination_done(const std::string& destination, const std::string& id) {
    spool::SpoolEntry entry;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return;  // e.g. a replayed forward-stage instance
        it->second.destinations.erase(destination);
        if (!it->second.destinations.empty()) return;
        entry = std::move(it->second.entry);
        pending_.erase(it);
    }
    // Removed before it leaves in_hand_, so a sweep cannot submit it again. Not synced: if the
    // unlink is lost in a crash, the instance is delivered once more (docs/operations.md).
    spool_.remove_incoming(entry);
    std::lock_guard<std::mutex> lock(mutex_);
    in_hand_.erase(id);
}

}  // namespace deidentify
