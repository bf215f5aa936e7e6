#include "deidentify/WorkerPool.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/Log.h"
#include "common/ThreadPriority.h"
#include "dimse/InstanceInfo.h"
#include "metrics/GatewayMetrics.h"

namespace deidentify {

using common::Level;
using common::log;

WorkerPool::WorkerPool(const config::Config& config, spool::Spool& spool, const spool::Router& router,
                       SourceFactory sources, boost::asio::io_context& timers, spool::ParsedBudget* budget)
    : config_(config),
      spool_(spool),
      router_(router),
      sources_(std::move(sources)),
      timers_(timers),
      budget_(budget),
      pool_(static_cast<std::size_t>(std::max(1, config.workers))) {
    spool_.on_incoming([this](spool::InstanceRecord record) { submit(std::move(record)); });
}

WorkerPool::~WorkerPool() {
    stop();
    spool_.on_incoming(nullptr);
}

void WorkerPool::submit(spool::InstanceRecord record) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            spool_.give_back(record);
            return;
        }
    }
    post(std::move(record), 0);
}

void WorkerPool::post(spool::InstanceRecord record, int attempt) {
    boost::asio::post(pool_, [this, record = std::move(record), attempt]() mutable {
        process(std::move(record), attempt);
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

int WorkerPool::retries_scheduled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return retries_scheduled_;
}

WorkerPool::Worker& WorkerPool::worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = workers_[std::this_thread::get_id()];
    if (!slot) {
        common::background_thread_priority();
        ::pthread_setname_np(::pthread_self(), "deid-worker");  // for top, /proc and bench/cpu_profile.sh
        auto w = std::make_unique<Worker>();
        w->source = sources_();
        w->deidentifier = std::make_unique<deid::InstanceDeidentifier>(config_, *w->source);
        // Outputs are derived from the durable incoming original, which stays until delivery.
        w->deidentifier->set_durable_writes(false);
        // Written over a recycled output file (Spool::reuse_output_file_for): no new inode.
        w->deidentifier->set_write_in_place(true);
        // An output of up to kMemoryOutputBytes is kept in memory for its destination's sender
        // and written only when it must be (Spool::publish): with a budget to bound them.
        if (budget_) w->deidentifier->set_memory_output(kMemoryOutputBytes);
        slot = std::move(w);
    }
    return *slot;
}

void WorkerPool::retry_later(const spool::InstanceRecord& record, int attempt, const std::string& why) {
    long long ms = config_.retry.base_ms;
    for (int i = 0; i < attempt && ms < config_.retry.cap_ms; ++i) ms *= 2;
    ms = std::min<long long>(ms, config_.retry.cap_ms);
    log(Level::warning, "deid", record.id + ": " + why + "; stays in incoming, retry in " + std::to_string(ms) + " ms");
    auto timer = std::make_shared<boost::asio::steady_timer>(timers_, std::chrono::milliseconds(ms));
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++retries_scheduled_;
    }
    timer->async_wait([this, timer, r = record.without_data(), attempt](const boost::system::error_code& ec) mutable {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --retries_scheduled_;
            if (ec || stopping_) {
                spool_.give_back(r);
                return;
            }
        }
        post(std::move(r), attempt + 1);
    });
}

void WorkerPool::process(spool::InstanceRecord record, int attempt) {
    // The exception boundary of a worker task: nothing thrown below ends the process.
    try {
        process_unguarded(record, attempt);
        return;
    } catch (const std::exception& e) {
        log(Level::error, "deid", record.id + ": internal error (" + e.what() + ")");
    } catch (...) {
        log(Level::error, "deid", record.id + ": internal error");
    }
    try {
        spool::QuarantineRecord q;
        q.id = record.id;
        q.reason = "internal-error";
        q.detail = "the worker failed unexpectedly";
        q.stage = spool::Stage::deidentify;
        q.calling_ae = record.calling_ae;
        if (const auto ec = spool_.quarantine_incoming(record, q))
            log(Level::error, "deid", record.id + ": could not quarantine: " + ec.message());
        else
            log(Level::warning, "deid", record.id + ": quarantined as internal-error/" + record.id);
    } catch (...) {
        spool_.give_back(record);
    }
}

void WorkerPool::process_unguarded(spool::InstanceRecord& record, int attempt) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            spool_.give_back(record);
            return;
        }
    }
    const std::string input = spool_.incoming_path(record);
    if (!spool_.has_incoming(record)) {  // replayed or purged meanwhile
        spool_.give_back(record);
        return;
    }
    if (!record.parsed.file) {
        // Read from its file: one received into memory gets it from its journal record first.
        if (const auto ec = spool_.make_incoming_file(record)) {
            retry_later(record.without_data(), attempt, "cannot write the original from the journal: " + ec.message());
            return;  // still in hand
        }
    }
    const std::string output = spool_.tmp_dir() + "/" + record.id + ".deid.dcm";
    deid::Outcome outcome;
    std::unique_ptr<DcmFileFormat> file = std::move(record.parsed.file);  // null: read from `input`
    std::shared_ptr<void> lease = std::move(record.parsed.lease);
    record.parsed = {};
    const auto started = std::chrono::steady_clock::now();
    try {
        // A recycled output file for the deidentifier to write over; not when it keeps outputs in
        // memory (it opens `output` only for one over kMemoryOutputBytes, which gets a new file,
        // and Spool::write_output recycles for the bytes it writes).
        if (!budget_) spool_.reuse_output_file_for(output);
        outcome = worker().deidentifier->process(file, input, output, record.calling_ae);
    } catch (const std::exception& e) {
        outcome.kind = deid::Outcome::Kind::Quarantined;
        outcome.reason = "internal-error";
        outcome.detail = "the de-identification engine failed unexpectedly";
    }
    switch (outcome.kind) {
        case deid::Outcome::Kind::Retry:
            ::unlink(output.c_str());
            retry_later(record, attempt, outcome.detail.empty() ? "pseudonym source unavailable" : outcome.detail);
            return;  // still in hand
        case deid::Outcome::Kind::Rejected:
            ::unlink(output.c_str());
            spool_.reject(record);
            if (metrics_) metrics_->rejected(outcome.detail.empty() ? outcome.reason : outcome.detail);
            log(Level::info, "deid", record.id + ": rejected by the profile (" + outcome.reason + "), not forwarded");
            return;
        case deid::Outcome::Kind::Quarantined: {
            ::unlink(output.c_str());
            spool::QuarantineRecord q;
            q.id = record.id;
            q.reason = outcome.reason.empty() ? "unknown" : outcome.reason;
            q.detail = outcome.detail;
            q.stage = spool::Stage::deidentify;
            q.calling_ae = record.calling_ae;
            const auto ec = spool_.quarantine_incoming(record, q);
            if (!ec && metrics_) metrics_->quarantined("deidentify", q.reason);
            log(Level::warning, "deid",
                record.id + ": quarantined as " + q.reason + "/" + record.id + ": " + outcome.detail +
                    (ec ? " (could not move: " + ec.message() + ")" : ""));
            return;
        }
        case deid::Outcome::Kind::Clean:
            if (metrics_)
                metrics_->deidentified(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                                       static_cast<std::uint64_t>(outcome.ocr_regions_read),
                                       static_cast<std::uint64_t>(outcome.ocr_regions_cleaned));
            break;
    }
    spool::RouteFacts facts{record.calling_ae, outcome.modality, outcome.sop_class_uid, ""};
    if (router_.needs_manufacturer()) {
        if (file) facts.manufacturer = dimse::instance_info(*file).manufacturer;  // what the output holds
        else if (auto info = dimse::read_instance_info(output)) facts.manufacturer = info->manufacturer;
    }
    const auto destinations = router_.route(facts);
    std::string names;
    for (const auto& d : destinations) names += (names.empty() ? "" : ",") + d;
    // With one destination, its sender sends what was just written from memory; several would
    // share (and change) it, so they read their files (Spool::publish passes it to one only).
    if (destinations.size() == 1 && file) {
        if (lease)  // the reception's share of the budget covers it
            record.parsed = spool::ParsedInstance{std::move(file), outcome.transfer_syntax_uid, std::move(lease)};
        else if (budget_ && outcome.output_bytes > 0) {
            record.parsed = spool::hold(*budget_, std::move(file), outcome.output_bytes);
            record.parsed.transfer_syntax_uid = outcome.transfer_syntax_uid;
        }
    }
    if (!outcome.encoded.empty()) {
        // The output's bytes go with its parsed form (one destination only) when the budget has
        // room for them too; otherwise they are written here (Spool::publish writes them only for
        // a destination that is not listening yet).
        if (record.parsed && budget_)
            record.parsed.encoded_lease = budget_->lease(outcome.encoded.size());
        if (record.parsed.encoded_lease) {
            record.parsed.encoded = std::move(outcome.encoded);
        } else if (destinations.empty()) {
            // nothing to write: the instance is finished
        } else if (const auto ec = spool_.write_output(output, outcome.encoded)) {
            retry_later(record.without_data(), attempt, "cannot write the output: " + ec.message());
            return;  // still in hand
        }
    }
    log(Level::info, "deid",
        record.id + ": de-identified, study " + outcome.study_instance_uid + " series " + outcome.series_instance_uid +
            " instance " + outcome.sop_instance_uid + " -> " + (names.empty() ? "(no destination matched)" : names));
    const spool::InstanceRecord key = record.without_data();
    if (const auto ec = spool_.publish(std::move(record), output, destinations))
        retry_later(key, attempt, "cannot queue for " + names + ": " + ec.message());
}

}  // namespace deidentify
