#include "http/StatusSnapshot.h"

namespace http {

NLOHMANN_JSON_SERIALIZE_ENUM(DestinationState, {{DestinationState::ok, "ok"}, {DestinationState::failing, "failing"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DestinationStatus, name, kind, state, queue_depth, oldest_queued_age_seconds,
                                   delivered, failed, last_success, last_error, last_error_at)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(BrokerStatus, up, round_trip_ms, checked_at, problem)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SpoolStatus, bytes, free_bytes, writable, has_room, problem)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ListenerStatus, up, ae_title, bind, port, active_associations)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Rate, what, last_1m, last_5m, last_15m)

const char* to_string(DestinationState state) { return state == DestinationState::ok ? "ok" : "failing"; }

void to_json(nlohmann::json& j, const StatusSnapshot& s) {
    j = nlohmann::json{{"version", s.version},
                       {"generated_at", s.generated_at},
                       {"uptime_seconds", s.uptime_seconds},
                       {"listener", s.listener},
                       {"broker", s.broker},
                       {"spool", s.spool},
                       {"destinations", s.destinations},
                       {"quarantine", s.quarantine},
                       {"throughput", s.throughput}};
}

void from_json(const nlohmann::json& j, StatusSnapshot& s) {
    j.at("version").get_to(s.version);
    j.at("generated_at").get_to(s.generated_at);
    j.at("uptime_seconds").get_to(s.uptime_seconds);
    j.at("listener").get_to(s.listener);
    j.at("broker").get_to(s.broker);
    j.at("spool").get_to(s.spool);
    j.at("destinations").get_to(s.destinations);
    j.at("quarantine").get_to(s.quarantine);
    j.at("throughput").get_to(s.throughput);
}

Readiness readiness(const StatusSnapshot& s) {
    Readiness r;
    auto check = [](bool ok, const std::string& detail) {
        return nlohmann::json{{"ok", ok}, {"detail", detail}};
    };
    const bool broker_ok = s.broker.up;
    const bool spool_ok = s.spool.writable && s.spool.has_room;
    const bool listener_ok = s.listener.up;
    nlohmann::json checks;
    checks["broker"] = check(broker_ok, broker_ok ? "answering" : (s.broker.problem.empty() ? "not answering" : s.broker.problem));
    checks["spool"] = check(spool_ok, spool_ok ? "writable with room"
                                               : (s.spool.problem.empty() ? "not writable or full" : s.spool.problem));
    checks["listener"] = check(listener_ok, listener_ok ? "accepting associations on port " + std::to_string(s.listener.port)
                                                        : "not accepting associations");
    r.ready = broker_ok && spool_ok && listener_ok;
    r.body = {{"ready", r.ready}, {"checks", checks}};
    return r;
}

}  // namespace http
