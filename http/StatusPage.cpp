#include "http/StatusPage.h"

#include <cstdio>
#include <sstream>

namespace http {

namespace {

std::string escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string bytes_text(std::uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::string age_text(double seconds) {
    char buf[32];
    if (seconds < 120) std::snprintf(buf, sizeof buf, "%.0f s", seconds);
    else if (seconds < 7200) std::snprintf(buf, sizeof buf, "%.0f min", seconds / 60);
    else std::snprintf(buf, sizeof buf, "%.1f h", seconds / 3600);
    return buf;
}

std::string rate_text(double per_minute) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", per_minute);
    return buf;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string last_error_text(const DestinationStatus& d) {
    if (d.last_error.empty()) return "-";
    return d.last_error + (d.last_error_at.empty() ? "" : " at " + d.last_error_at);
}

}  // namespace

std::string render_html(const StatusSnapshot& s, int refresh_seconds) {
    std::ostringstream o;
    const bool ready = readiness(s).ready;
    o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<meta http-equiv=\"refresh\" content=\"" << refresh_seconds << "\">\n"
      << "<title>deid-gateway " << (ready ? "ready" : "NOT READY") << "</title>\n"
      << "<style>body{font-family:system-ui,sans-serif;margin:0.8em;max-width:60em}"
         "table{border-collapse:collapse;width:100%;margin-bottom:1em}"
         "th,td{text-align:left;padding:0.3em 0.5em;border-bottom:1px solid #ccc;vertical-align:top}"
         ".ok{color:#070;font-weight:bold}.failing{color:#b00;font-weight:bold}"
         "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.2em}h3{font-size:1em;margin:0 0 0.3em}"
         ".dest{border:1px solid #ccc;border-left-width:6px;border-radius:4px;padding:0.5em;margin-bottom:0.6em}"
         ".dest p{margin:0.2em 0}"
         "small{color:#555}</style></head><body>\n";
    o << "<h1>deid-gateway <span class=\"" << (ready ? "ok" : "failing") << "\">" << (ready ? "ready" : "NOT READY")
      << "</span></h1>\n";
    o << "<p><small>version " << escape(s.version) << " &middot; " << escape(s.generated_at) << " &middot; up "
      << age_text(s.uptime_seconds) << " &middot; refreshes every " << refresh_seconds << " s</small></p>\n";

    // One block per destination (not a wide table): readable on a phone without scrolling sideways.
    o << "<h2>Destinations</h2>\n";
    for (const auto& d : s.destinations) {
        const char* st = to_string(d.state);
        o << "<div class=\"dest\" data-destination=\"" << escape(d.name) << "\"><h3>" << escape(d.name) << " <small>("
          << escape(d.kind) << ")</small> <span class=\"state " << st << "\">" << st << "</span></h3>\n"
          << "<p>queue <b class=\"queue\">" << d.queue_depth << "</b>"
          << (d.queue_depth ? ", oldest " + age_text(d.oldest_queued_age_seconds) : std::string()) << " &middot; delivered "
          << d.delivered << "</p>\n<p><small>last success " << escape(or_dash(d.last_success)) << "<br>last error "
          << escape(last_error_text(d)) << "</small></p></div>\n";
    }

    o << "<h2>Broker</h2>\n<p id=\"broker\" class=\"" << (s.broker.up ? "ok" : "failing") << "\">"
      << (s.broker.up ? "answering" : "NOT ANSWERING") << "</p>\n<p><small>";
    if (s.broker.up) o << "round trip " << rate_text(s.broker.round_trip_ms) << " ms";
    else o << escape(s.broker.problem);
    o << (s.broker.checked_at.empty() ? "" : " &middot; checked " + escape(s.broker.checked_at)) << "</small></p>\n";

    o << "<h2>Receiving</h2>\n<p>" << escape(s.listener.ae_title) << " on " << escape(s.listener.bind) << ":"
      << s.listener.port << ": <span class=\"" << (s.listener.up ? "ok" : "failing") << "\">"
      << (s.listener.up ? "listening" : "NOT LISTENING") << "</span>, " << s.listener.active_associations
      << " associations</p>\n";

    o << "<h2>Spool</h2>\n<p><span class=\"" << (s.spool.writable && s.spool.has_room ? "ok" : "failing") << "\">"
      << (s.spool.writable && s.spool.has_room ? "writable" : escape(or_dash(s.spool.problem))) << "</span>: "
      << bytes_text(s.spool.bytes) << " held, " << bytes_text(s.spool.free_bytes) << " free on disk</p>\n";

    o << "<h2>Quarantine</h2>\n";
    if (s.quarantine.empty()) o << "<p>empty</p>\n";
    else {
        o << "<table id=\"quarantine\"><tr><th>reason</th><th>instances</th></tr>\n";
        for (const auto& [reason, count] : s.quarantine)
            o << "<tr><td>" << escape(reason) << "</td><td>" << count << "</td></tr>\n";
        o << "</table>\n";
    }

    o << "<h2>Throughput</h2>\n<table id=\"throughput\"><tr><th>per minute</th><th>1 min</th><th>5 min</th>"
         "<th>15 min</th></tr>\n";
    for (const auto& r : s.throughput)
        o << "<tr><td>" << escape(r.what) << "</td><td>" << rate_text(r.last_1m) << "</td><td>" << rate_text(r.last_5m)
          << "</td><td>" << rate_text(r.last_15m) << "</td></tr>\n";
    o << "</table>\n<p><small><a href=\"/metrics\">metrics</a> &middot; <a href=\"/readyz\">readyz</a> &middot; "
         "<a href=\"/status.json\">status.json</a></small></p>\n</body></html>\n";
    return o.str();
}

std::string render_text(const StatusSnapshot& s) {
    std::ostringstream o;
    const auto r = readiness(s);
    o << "deid-gateway " << s.version << ": " << (r.ready ? "ready" : "NOT READY") << " (" << s.generated_at << ", up "
      << age_text(s.uptime_seconds) << ")\n\n";
    o << "destinations:\n";
    for (const auto& d : s.destinations) {
        o << "  " << d.name << " (" << d.kind << "): " << to_string(d.state) << ", queue " << d.queue_depth;
        if (d.queue_depth) o << " (oldest " << age_text(d.oldest_queued_age_seconds) << ")";
        o << ", delivered " << d.delivered << ", last success " << or_dash(d.last_success) << ", last error "
          << last_error_text(d) << "\n";
    }
    o << "broker: " << (s.broker.up ? "answering, round trip " + rate_text(s.broker.round_trip_ms) + " ms"
                                    : "NOT ANSWERING: " + s.broker.problem)
      << "\n";
    o << "receiving: " << s.listener.ae_title << " on " << s.listener.bind << ":" << s.listener.port << ", "
      << (s.listener.up ? "listening" : "NOT LISTENING") << ", " << s.listener.active_associations << " associations\n";
    o << "spool: " << (s.spool.writable && s.spool.has_room ? "writable" : or_dash(s.spool.problem)) << ", "
      << bytes_text(s.spool.bytes) << " held, " << bytes_text(s.spool.free_bytes) << " free\n";
    o << "quarantine:";
    if (s.quarantine.empty()) o << " empty";
    o << "\n";
    for (const auto& [reason, count] : s.quarantine) o << "  " << reason << ": " << count << "\n";
    o << "throughput per minute (1 / 5 / 15 min):\n";
    for (const auto& t : s.throughput)
        o << "  " << t.what << ": " << rate_text(t.last_1m) << " / " << rate_text(t.last_5m) << " / "
          << rate_text(t.last_15m) << "\n";
    return o.str();
}

}  // namespace http
