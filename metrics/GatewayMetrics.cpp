#include "metrics/GatewayMetrics.h"

#include <cstdio>

#include "common/IsoTime.h"

namespace metrics {

namespace {
constexpr const char* kAssociations =
    "Associations requested of the gateway's listener, by outcome (aborted: accepted, then ended by an A-ABORT).";
constexpr const char* kCStores = "C-STORE requests answered, by the status answered (PS3.4 Annex B, hex).";
constexpr const char* kReceived = "Instances durably spooled and answered Success.";
constexpr const char* kDeidentified = "Instances de-identified and verified.";
constexpr const char* kRejected = "Instances refused by a profile.reject rule, by reason.";
constexpr const char* kQuarantined = "Instances moved to quarantine, by stage and reason.";
constexpr const char* kDelivered = "Instances delivered, per destination.";
constexpr const char* kFailures = "Failed delivery attempts, per destination and reason.";
constexpr const char* kQueue = "Instances waiting for delivery, per destination.";
constexpr const char* kOldest = "Age of the oldest instance waiting for delivery, per destination (0 when empty).";
constexpr const char* kSpoolBytes = "Bytes held in the spool (incoming and outgoing).";
constexpr const char* kFree = "Free bytes on the spool's file system.";
constexpr const char* kDurable =
    "Receptions made durable before Success, by a reception journal record or by their own file's syncs.";
constexpr const char* kCheckpoints = "Reception journal regions checkpointed (syncfs) and written again.";
constexpr const char* kCheckpointFailures = "Reception journal checkpoints that failed and were tried again.";
constexpr const char* kHeldFiles =
    "Receptions held by their journal record alone whose incoming file was written from it (a stage needed it, "
    "their delivery waited, or their region was checkpointed first).";
constexpr const char* kLatency = "Time from durable reception to delivery, per destination.";
constexpr const char* kStage = "Time spent in one stage per instance.";
constexpr const char* kOcrRead = "Candidate text regions read by OCR.";
constexpr const char* kOcrCleaned = "Regions whose burned-in text was removed.";
constexpr const char* kBrokerUp = "1 when the keystore broker answered its last health request.";
constexpr const char* kBrokerRtt = "Round trip of the last health request to the keystore broker.";
constexpr const char* kBrokerAlarms =
    "Alarms the keystore broker raised since it started: new patients asked for much faster than instances.";
constexpr const char* kBuild = "The gateway's version.";
}  // namespace

GatewayMetrics::GatewayMetrics(Registry& registry, const std::vector<std::string>& destinations,
                               const std::string& version)
    : registry_(registry) {
    registry_.gauge("deid_build_info", kBuild, {{"version", version}}).set(1);
    // Every family present from the start (a scrape before the first instance sees zeros).
    registry_.counter("deid_associations_total", kAssociations, {{"outcome", "accepted"}});
    registry_.counter("deid_associations_total", kAssociations, {{"outcome", "rejected"}});
    registry_.counter("deid_associations_total", kAssociations, {{"outcome", "aborted"}});
    registry_.counter("deid_cstore_requests_total", kCStores, {{"status", "0000"}});
    registry_.counter("deid_instances_received_total", kReceived);
    registry_.counter("deid_instances_deidentified_total", kDeidentified);
    registry_.counter("deid_ocr_regions_read_total", kOcrRead);
    registry_.counter("deid_ocr_regions_cleaned_total", kOcrCleaned);
    registry_.gauge("deid_spool_bytes", kSpoolBytes);
    registry_.gauge("deid_spool_free_bytes", kFree);
    registry_.counter("deid_receptions_durable_total", kDurable, {{"by", "journal"}});
    registry_.counter("deid_receptions_durable_total", kDurable, {{"by", "file"}});
    registry_.counter("deid_journal_checkpoints_total", kCheckpoints);
    registry_.counter("deid_journal_checkpoint_failures_total", kCheckpointFailures);
    registry_.counter("deid_journal_incoming_files_written_total", kHeldFiles);
    registry_.gauge("deid_broker_up", kBrokerUp);
    registry_.gauge("deid_broker_round_trip_seconds", kBrokerRtt);
    registry_.gauge("deid_broker_alarms", kBrokerAlarms);
    for (const char* stage : {"receive", "deidentify", "forward"})
        registry_.histogram("deid_stage_seconds", kStage, Histogram::seconds_buckets(), {{"stage", stage}});
    for (const auto& d : destinations) {
        registry_.counter("deid_delivered_total", kDelivered, {{"destination", d}});
        registry_.gauge("deid_queue_depth", kQueue, {{"destination", d}});
        registry_.gauge("deid_queue_oldest_age_seconds", kOldest, {{"destination", d}});
        registry_.histogram("deid_end_to_end_latency_seconds", kLatency, Histogram::seconds_buckets(),
                            {{"destination", d}});
        destinations_[d];
    }
}

void GatewayMetrics::association(bool accepted) {
    registry_.counter("deid_associations_total", kAssociations, {{"outcome", accepted ? "accepted" : "rejected"}}).inc();
}

void GatewayMetrics::association_aborted() {
    registry_.counter("deid_associations_total", kAssociations, {{"outcome", "aborted"}}).inc();
}

void GatewayMetrics::cstore(std::uint16_t status) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(status));
    registry_.counter("deid_cstore_requests_total", kCStores, {{"status", hex}}).inc();
}

void GatewayMetrics::received(double receive_seconds) {
    registry_.counter("deid_instances_received_total", kReceived).inc();
    registry_.histogram("deid_stage_seconds", kStage, Histogram::seconds_buckets(), {{"stage", "receive"}})
        .observe(receive_seconds);
    received_rate_.add();
}

void GatewayMetrics::deidentified(double seconds, std::uint64_t ocr_read, std::uint64_t ocr_cleaned) {
    registry_.counter("deid_instances_deidentified_total", kDeidentified).inc();
    registry_.histogram("deid_stage_seconds", kStage, Histogram::seconds_buckets(), {{"stage", "deidentify"}})
        .observe(seconds);
    if (ocr_read) registry_.counter("deid_ocr_regions_read_total", kOcrRead).inc(ocr_read);
    if (ocr_cleaned) registry_.counter("deid_ocr_regions_cleaned_total", kOcrCleaned).inc(ocr_cleaned);
    deidentified_rate_.add();
}

void GatewayMetrics::rejected(const std::string& reason) {
    registry_.counter("deid_instances_rejected_total", kRejected, {{"reason", reason}}).inc();
}

void GatewayMetrics::quarantined(const std::string& stage, const std::string& reason) {
    registry_.counter("deid_instances_quarantined_total", kQuarantined, {{"stage", stage}, {"reason", reason}}).inc();
    quarantined_rate_.add();
}

void GatewayMetrics::delivered(const std::string& destination, double end_to_end_seconds, double send_seconds) {
    registry_.counter("deid_delivered_total", kDelivered, {{"destination", destination}}).inc();
    registry_.histogram("deid_end_to_end_latency_seconds", kLatency, Histogram::seconds_buckets(),
                        {{"destination", destination}})
        .observe(end_to_end_seconds);
    registry_.histogram("deid_stage_seconds", kStage, Histogram::seconds_buckets(), {{"stage", "forward"}})
        .observe(send_seconds);
    delivered_rate_.add();
    std::lock_guard<std::mutex> lock(mutex_);
    auto& d = destinations_[destination];
    d.failing = false;
    ++d.delivered;
    d.last_success = common::iso_now();
}

void GatewayMetrics::delivery_failed(const std::string& destination, const std::string& reason) {
    registry_.counter("deid_delivery_failures_total", kFailures, {{"destination", destination}, {"reason", reason}})
        .inc();
    std::lock_guard<std::mutex> lock(mutex_);
    auto& d = destinations_[destination];
    d.failing = true;
    ++d.failed;
    d.last_error = reason;
    d.last_error_at = common::iso_now();
}

void GatewayMetrics::broker(bool up, double round_trip_seconds, double alarms) {
    registry_.gauge("deid_broker_up", kBrokerUp).set(up ? 1 : 0);
    if (up) registry_.gauge("deid_broker_alarms", kBrokerAlarms).set(alarms);
    registry_.gauge("deid_broker_round_trip_seconds", kBrokerRtt).set(up ? round_trip_seconds : 0);
}

void GatewayMetrics::queue(const std::string& destination, std::uint64_t depth, double oldest_age_seconds) {
    registry_.gauge("deid_queue_depth", kQueue, {{"destination", destination}}).set(static_cast<double>(depth));
    registry_.gauge("deid_queue_oldest_age_seconds", kOldest, {{"destination", destination}}).set(oldest_age_seconds);
}

void GatewayMetrics::spool(std::uint64_t bytes, std::uint64_t free_bytes) {
    registry_.gauge("deid_spool_bytes", kSpoolBytes).set(static_cast<double>(bytes));
    registry_.gauge("deid_spool_free_bytes", kFree).set(static_cast<double>(free_bytes));
}

void GatewayMetrics::durability(const Durability& totals) {
    // The spool counts; these counters follow its totals (which only grow).
    const auto follow = [](Counter& counter, std::uint64_t total) {
        if (total > counter.value()) counter.inc(total - counter.value());
    };
    follow(registry_.counter("deid_receptions_durable_total", kDurable, {{"by", "journal"}}), totals.by_journal);
    follow(registry_.counter("deid_receptions_durable_total", kDurable, {{"by", "file"}}), totals.by_file);
    follow(registry_.counter("deid_journal_checkpoints_total", kCheckpoints), totals.checkpoints);
    follow(registry_.counter("deid_journal_checkpoint_failures_total", kCheckpointFailures), totals.checkpoint_failures);
    follow(registry_.counter("deid_journal_incoming_files_written_total", kHeldFiles), totals.incoming_files_written);
}

GatewayMetrics::DestinationRecord GatewayMetrics::destination(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = destinations_.find(name);
    return it == destinations_.end() ? DestinationRecord{} : it->second;
}

std::vector<GatewayMetrics::Rates> GatewayMetrics::throughput() const {
    using namespace std::chrono;
    const auto now = RateWindow::Clock::now();
    std::vector<Rates> out;
    auto add = [&](const char* what, const RateWindow& w) {
        out.push_back({what, w.per_minute(minutes(1), now), w.per_minute(minutes(5), now), w.per_minute(minutes(15), now)});
    };
    add("received", received_rate_);
    add("deidentified", deidentified_rate_);
    add("delivered", delivered_rate_);
    add("quarantined", quarantined_rate_);
    return out;
}

}  // namespace metrics
