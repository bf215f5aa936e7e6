// What the gateway tells the HTTP endpoint: a plain value the serve command fills on request
// (per destination state and queue, quarantine by reason, throughput, broker, spool, listener).
// Every string in it comes from config (destination names, AE title), a reason slug or a time:
// never a value from a data set. The same value renders the status page, `deid-gateway status`
// (through its JSON, /status.json) and /readyz.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace http {

enum class DestinationState { ok, failing };

struct DestinationStatus {
    std::string name;                 // from config
    std::string kind;                 // dicom | folder
    DestinationState state = DestinationState::ok;
    std::uint64_t queue_depth = 0;    // instances waiting in outgoing/<name>/
    double oldest_queued_age_seconds = 0;
    std::uint64_t delivered = 0;      // since start
    std::uint64_t failed = 0;         // failed attempts since start
    std::string last_success;         // ISO 8601 UTC; empty = none since start
    std::string last_error;           // reason slug (connect-failed, refused-a700, ...); empty = none
    std::string last_error_at;        // ISO 8601 UTC
};

struct BrokerStatus {
    bool up = false;
    double round_trip_ms = 0;         // of the last health request
    std::string checked_at;           // ISO 8601 UTC
    std::string problem;              // empty when up
};

struct SpoolStatus {
    std::uint64_t bytes = 0;          // held in incoming/ + outgoing/
    std::uint64_t free_bytes = 0;     // on the spool's file system
    bool writable = false;
    bool has_room = false;            // under spool.max_bytes, above spool.min_free_bytes
    std::string problem;              // empty when writable with room
};

struct ListenerStatus {
    bool up = false;
    std::string ae_title;
    std::string bind;
    int port = 0;
    int active_associations = 0;
};

// Events per minute over the last 1, 5 and 15 minutes.
struct Rate {
    std::string what;                 // received | deidentified | delivered | quarantined
    double last_1m = 0, last_5m = 0, last_15m = 0;
};

struct StatusSnapshot {
    std::string version;
    std::string generated_at;         // ISO 8601 UTC
    double uptime_seconds = 0;
    ListenerStatus listener;
    BrokerStatus broker;
    SpoolStatus spool;
    std::vector<DestinationStatus> destinations;
    std::map<std::string, std::uint64_t> quarantine;  // reason slug -> instances held
    std::vector<Rate> throughput;
};

// /readyz: ready when the broker answers, the spool is writable with room and the listener is up.
struct Readiness {
    bool ready = false;
    nlohmann::json body;  // {"ready": bool, "checks": {"broker": {"ok": bool, "detail": ...}, ...}}
};
Readiness readiness(const StatusSnapshot& snapshot);

const char* to_string(DestinationState state);

void to_json(nlohmann::json& j, const StatusSnapshot& s);
// Throws nlohmann::json::exception on a body that is not a snapshot.
void from_json(const nlohmann::json& j, StatusSnapshot& s);

}  // namespace http
