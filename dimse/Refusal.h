// Why the listener turned a connection or an association request away, and the bounded log of it.
// A flood of refused connections (one host opening thousands) must not flood the log: every
// refusal is counted (observer, for metrics), but only `burst` lines are written per interval;
// what was left out is written as one summary line per interval, counts by reason.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace dimse {

enum class Refusal {
    connections_total,                   // TCP connection closed: the listener's connection limit
    connections_per_host,                // TCP connection closed: limits.connections_per_host
    no_request,                          // no (complete) A-ASSOCIATE-RQ in time, or the peer closed
    tls_handshake,                       // TLS handshake failed (plain client, unknown CA, old version...)
    request_unreadable,                  // the request could not be read (malformed PDU, ...)
    called_ae_not_recognized,            // A-ASSOCIATE-RJ permanent, called AE title not recognized
    calling_ae_not_recognized,           // A-ASSOCIATE-RJ permanent: allowed_calling_ae or known_callers
    associations_total,                  // A-ASSOCIATE-RJ transient, local limit exceeded
    associations_per_host,               // same, limits.associations_per_host
    associations_per_calling_ae,         // same, limits.associations_per_calling_ae
    shutting_down,                       // A-ASSOCIATE-RJ transient, temporary congestion
};
constexpr std::size_t kRefusalKinds = 11;
// The reason as a metric label value (snake_case, as the enumerator).
const char* slug(Refusal refusal);

class RefusalLog {
public:
    using Sink = std::function<void(const std::string&)>;  // writes one warning line
    RefusalLog(Sink sink, int burst = 20, std::chrono::seconds interval = std::chrono::seconds(10));

    // Counts the refusal; writes `line` unless this interval's burst is used up.
    void refused(Refusal refusal, const std::string& line);
    // Called now and then (the accept loop's tick): once an interval has passed, writes the summary
    // of the lines left out in it, if any, and starts a new interval.
    void tick();
    std::uint64_t total(Refusal refusal) const;

private:
    void roll(std::chrono::steady_clock::time_point now);  // with mutex_ held
    Sink sink_;
    const int burst_;
    const std::chrono::seconds interval_;
    mutable std::mutex mutex_;
    std::chrono::steady_clock::time_point interval_start_;
    int written_ = 0;
    std::array<std::uint64_t, kRefusalKinds> suppressed_{};
    std::array<std::uint64_t, kRefusalKinds> totals_{};
};

}  // namespace dimse
