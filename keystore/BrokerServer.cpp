#include "keystore/BrokerServer.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <optional>
#include <iterator>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <functional>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "common/Log.h"
#include "keystore/AuditLog.h"
#include "keystore/Frame.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/MappingIssuer.h"
#include "keystore/SecretKey.h"
#include "keystore/WalCheckpointer.h"

namespace keystore {

namespace asio = boost::asio;
using boost::system::error_code;
using Protocol = asio::local::stream_protocol;
using nlohmann::json;

// The gateway's log format (common/Log.h, log.format), component "keystore".
void log_line(const char* level, const std::string& message) {
    const std::string l = level;
    const common::Level as = l == "error" ? common::Level::error
                             : l == "warning" ? common::Level::warning
                             : l == "debug" ? common::Level::debug
                                            : common::Level::info;
    common::log(as, "keystore", message);
}

namespace {

constexpr std::size_t kMaxBatch = 512;
constexpr std::size_t kMaxValueBytes = 1024;

struct StartError : std::runtime_error {
    StartError(int code, const std::string& what) : std::runtime_error(what), exit_code(code) {}
    int exit_code;
};

using Clock = std::chrono::steady_clock;
using Limits = config::Keystore::Limits;

class Broker;

// What the broker answered and refused in one audit interval: counts only, never a value.
struct IntervalCounts {
    std::uint64_t questions = 0, with_instance = 0, new_patients = 0, uids = 0, new_uids = 0, hashes = 0;
    std::uint64_t without_instance = 0, rejected = 0, rate_limited = 0, connections = 0, connections_refused = 0,
                  frames_timed_out = 0, idle_closed = 0, evicted = 0;
    bool empty() const {
        return questions + rejected + rate_limited + connections + connections_refused + frames_timed_out +
                   idle_closed + evicted ==
               0;
    }
    json to_json() const {
        return {{"questions", questions},           {"with_instance", with_instance},
                {"new_patients", new_patients},     {"uids", uids},
                {"new_uids", new_uids},             {"hashes", hashes},
                {"without_instance", without_instance}, {"rejected", rejected},
                {"rate_limited", rate_limited},     {"connections", connections},
                {"connections_refused", connections_refused}, {"frames_timed_out", frames_timed_out},
                {"idle_closed", idle_closed},       {"evicted", evicted}};
    }
};

// One client connection. Requests may be pipelined: every complete frame in the read buffer is
// handled, each gets a reply slot, and replies are written strictly in request order (a resolve
// answered by a later group commit never lets a later error or health reply overtake it).
// keystore.limits: questions and values (UIDs + hashes) per second are token buckets of one
// second's worth; a question that finds its bucket empty waits (reading pauses) until it refills,
// so a gateway is slowed, never refused. A frame above max_frame_bytes, or one not complete
// within frame_timeout_seconds of its first byte, closes the connection. A connection that sends
// no complete request for idle_seconds (and is owed no reply) is closed; at max_connections the
// connection idle longest (at least kMinIdleToEvict) is closed to admit a new one (Broker::admit).
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Protocol::socket socket, Broker& broker, std::uint64_t id);
    ~Session();
    void start() {
        do_read();
        arm_idle_timer();
    }
    // Idle: owed no reply, nothing parsed or waiting; `since` is its last complete request (or
    // its connect). A partial frame is bounded by frame_timeout_seconds instead.
    bool idle(Clock::time_point& since) const {
        since = last_request_;
        return !dead_ && !closing_ && slots_.empty() && !writing_ && !rate_waiting_ && inbuf_.empty();
    }
    std::uint64_t id() const { return id_; }
    void close_now();
    // Fills reply slot `seq` (a request of this session) and writes what is now in order.
    void send(std::uint64_t seq, const json& reply, bool close_after = false);

private:
    static constexpr std::size_t kMaxInFlight = 64;  // per connection; reading pauses above it
    void do_read();
    void on_read(const error_code& ec, std::size_t n);
    void parse_frames();
    bool complete_frame_waiting() const;
    bool take_question_token();
    void arm_frame_timer();
    void on_frame_timer(const error_code& ec);
    void handle(const char* data, std::size_t size, std::uint64_t seq);
    void reject(std::uint64_t seq, const std::string& why, bool close_after = false);
    void write_ready();
    void maybe_resume_reading();
    void arm_idle_timer();
    void on_idle_timer(const error_code& ec);

    Protocol::socket socket_;
    Broker& broker_;
    const Limits& limits_;
    std::shared_ptr<std::uint64_t> live_;  // the broker's count of open connections (outlives it)
    bool counted_ = true;                  // still in *live_ (released by close_now or the destructor)
    std::uint64_t id_;
    std::array<char, 65536> chunk_{};
    std::string inbuf_;
    std::uint64_t next_seq_ = 0;     // sequence number of the next request read
    std::uint64_t first_slot_ = 0;   // sequence number of slots_.front()
    std::deque<std::optional<std::string>> slots_;  // framed replies, in request order
    std::string out_, queued_;
    bool writing_ = false, reading_ = false, closing_ = false, dead_ = false;
    double question_tokens_, value_tokens_;
    Clock::time_point refilled_ = Clock::now();
    asio::steady_timer rate_timer_;
    bool rate_waiting_ = false;
    std::uint64_t rejections_ = 0;
    asio::steady_timer frame_timer_;
    bool frame_timer_armed_ = false;
    Clock::time_point frame_started_ = Clock::now();  // first byte of the frame in inbuf_
    asio::steady_timer idle_timer_;
    Clock::time_point last_request_ = Clock::now();  // last complete request (or the connect)
};

struct Job {
    std::shared_ptr<Session> session;
    std::uint64_t seq = 0;
    ResolveRequest request;
};

// Requests are parsed as they arrive; the first one queued schedules a flush on the same Asio
// thread, which runs after the other handlers that are already ready. The flush answers every
// queued request with ONE transaction (group commit), committed before any reply is written;
// requests the in-memory set of recorded mappings answers entirely need no transaction.
// Every keystore.audit_interval_seconds the counts of the interval go into one "questions" audit
// record, and an "alarm" record (and a warning) when new patients were asked for much faster
// than instances (keystore.alarm).
class Broker {
public:
    Broker(asio::io_context& io, MapStore& db, const KeyedDerivation& derivation, const config::Keystore& settings)
        : io_(io),
          db_(db),
          issuer_(db, derivation),
          settings_(settings),
          started_(Clock::now()),
          audit_timer_(io) {
        const MapCounts c = db_.counts();
        patients_ = c.patients;
        uids_ = c.uids;
    }

    void enqueue(Job job) {
        pending_.push_back(std::move(job));
        if (flush_scheduled_) return;
        flush_scheduled_ = true;
        asio::post(io_, [this] { flush(); });
    }

    json health() {
        try {  // the counts table also counts what `import` added while the broker runs
            const MapCounts c = db_.counts();
            patients_ = c.patients;
            uids_ = c.uids;
        } catch (const std::exception&) {
        }
        return {{"ok", true},
                {"status", "serving"},
                {"version", config::version()},
                {"pid", static_cast<long>(getpid())},
                {"patients", patients_},
                {"uids", uids_},
                {"requests", requests_},
                {"batches", batches_},
                {"transactions", issuer_.transactions()},
                {"batches_from_memory", issuer_.batches_from_memory()},
                {"rejected", rejected_},
                {"without_instance", issuer_.refused_without_instance()},
                {"rate_limited", rate_limited_},
                {"connections", *live_sessions_},
                {"connections_refused", connections_refused_},
                {"connections_idle_closed", idle_closed_},
                {"connections_evicted", evicted_},
                {"alarms", alarms_},
                {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count()}};
    }

    const Limits& limits() const { return settings_.limits; }
    void count_rejected() {
        ++rejected_;
        ++interval_.rejected;
    }
    void count_rate_limited() {
        ++rate_limited_;
        ++interval_.rate_limited;
    }
    void count_frame_timeout() { ++interval_.frames_timed_out; }
    void count_idle_closed() {
        ++idle_closed_;
        ++interval_.idle_closed;
    }
    std::uint64_t next_session_id() { return ++sessions_; }

    // The connection cap. At max_connections the connection idle longest (at least
    // kMinIdleToEvict) is closed to make room, so idle connections of others never lock a gateway
    // out; when none is idle, false (and counted): the caller answers with a refusal and closes.
    bool admit() {
        if (*live_sessions_ >= static_cast<std::uint64_t>(settings_.limits.max_connections) && !evict_idlest()) {
            ++connections_refused_;
            ++interval_.connections_refused;
            return false;
        }
        ++*live_sessions_;
        ++interval_.connections;
        return true;
    }
    void add_session(const std::shared_ptr<Session>& s) { sessions_list_.push_back(s); }
    std::shared_ptr<std::uint64_t> live_counter() const { return live_sessions_; }

    static constexpr std::chrono::seconds kMinIdleToEvict{1};

    bool evict_idlest() {
        const auto now = Clock::now();
        std::shared_ptr<Session> idlest;
        Clock::time_point idlest_since = now;
        std::size_t kept = 0;
        for (auto& w : sessions_list_) {
            auto s = w.lock();
            if (!s) continue;
            sessions_list_[kept++] = w;
            Clock::time_point since;
            if (s->idle(since) && now - since >= kMinIdleToEvict && since < idlest_since) {
                idlest = s;
                idlest_since = since;
            }
        }
        sessions_list_.resize(kept);
        if (!idlest) return false;
        ++evicted_;
        ++interval_.evicted;
        log_line("debug", "connection " + std::to_string(idlest->id()) + ": idle for " +
                              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - idlest_since).count()) +
                              " s, closed to admit a new one at keystore.limits.max_connections (" +
                              std::to_string(settings_.limits.max_connections) + ")");
        idlest->close_now();
        return true;
    }

    void start_audit_timer() {
        audit_timer_.expires_after(std::chrono::seconds(settings_.audit_interval_seconds));
        audit_timer_.async_wait([this](const error_code& ec) {
            if (ec) return;
            close_interval();
            start_audit_timer();
        });
    }

    // Writes the interval's "questions" record (and an "alarm" record); also called at stop.
    void close_interval() {
        const IntervalCounts c = interval_;
        interval_ = IntervalCounts{};
        const auto now = Clock::now();
        const double seconds = std::chrono::duration<double>(now - interval_started_).count();
        interval_started_ = now;
        if (c.idle_closed + c.evicted > 0)
            log_line("info", std::to_string(c.idle_closed) + " idle broker connections closed (keystore.limits.idle_seconds " +
                                 std::to_string(settings_.limits.idle_seconds) + ") and " + std::to_string(c.evicted) +
                                 " closed to admit new ones at keystore.limits.max_connections in the last interval");
        if (c.connections_refused > 0)
            log_line("warning", std::to_string(c.connections_refused) +
                                    " broker connections refused in the last interval (keystore.limits.max_connections " +
                                    std::to_string(settings_.limits.max_connections) + " open)");
        if (c.empty()) return;
        const bool alarm = c.new_patients >= static_cast<std::uint64_t>(settings_.alarm.min_new_patients) &&
                           static_cast<double>(c.new_patients) >
                               settings_.alarm.new_patients_per_instance * static_cast<double>(c.with_instance);
        json detail = c.to_json();
        detail["interval_seconds"] = std::round(seconds * 10) / 10;
        try {
            db_.begin_immediate();
            try {
                AuditLog(db_).append("questions", "", detail);
                if (alarm)
                    AuditLog(db_).append("alarm", "new patients asked for faster than instances",
                                         {{"new_patients", c.new_patients},
                                          {"with_instance", c.with_instance},
                                          {"questions", c.questions},
                                          {"interval_seconds", detail["interval_seconds"]},
                                          {"new_patients_per_instance", settings_.alarm.new_patients_per_instance}});
                db_.commit();
            } catch (...) {
                db_.rollback();
                throw;
            }
        } catch (const std::exception& e) {
            log_line("error", std::string("the interval's audit record was not written: ") + e.what());
        }
        if (alarm) {
            ++alarms_;
            log_line("warning", "ALARM: " + std::to_string(c.new_patients) + " new patients asked for in " +
                                    detail["interval_seconds"].dump() + " s with only " +
                                    std::to_string(c.with_instance) + " instances (" + std::to_string(c.questions) +
                                    " questions); someone may be guessing Patient IDs");
        }
    }

private:
    void flush() {
        flush_scheduled_ = false;
        while (!pending_.empty()) {
            std::vector<Job> jobs;
            const std::size_t n = std::min(pending_.size(), kMaxBatch);
            jobs.reserve(n);
            std::move(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n), std::back_inserter(jobs));
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
            answer(jobs);
        }
    }

    void answer(std::vector<Job>& jobs) {
        std::vector<ResolveRequest> batch;
        batch.reserve(jobs.size());
        for (auto& j : jobs) {
            interval_.with_instance += j.request.instance_uid.empty() ? 0 : 1;
            interval_.uids += j.request.uids.size();
            interval_.hashes += j.request.hashes.size();
            batch.push_back(std::move(j.request));
        }
        interval_.questions += jobs.size();
        std::vector<ResolveResult> results;
        bool failed = false;
        try {
            const std::int64_t patients_before = issuer_.new_patients(), uids_before = issuer_.new_uids();
            const std::uint64_t without_before = issuer_.refused_without_instance();
            results = issuer_.issue(batch);
            patients_ += issuer_.new_patients() - patients_before;
            uids_ += issuer_.new_uids() - uids_before;
            interval_.new_patients += static_cast<std::uint64_t>(issuer_.new_patients() - patients_before);
            interval_.new_uids += static_cast<std::uint64_t>(issuer_.new_uids() - uids_before);
            interval_.without_instance += issuer_.refused_without_instance() - without_before;
        } catch (const std::exception& e) {
            failed = true;
            log_line("error", std::string("a batch of ") + std::to_string(jobs.size()) +
                                  " requests was not recorded: " + e.what());
        }
        requests_ += jobs.size();
        ++batches_;
        std::uint64_t refused = 0;
        std::string first_refusal;
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            json reply;
            if (failed) {
                reply = {{"ok", false}, {"error", "the keystore database is unavailable; retry later"}};
            } else if (!results[i].error.empty()) {
                reply = {{"ok", false}, {"error", results[i].error}};
                if (refused++ == 0) first_refusal = results[i].error;
            } else {
                reply = {{"ok", true},
                         {"pseudonym", std::move(results[i].pseudonym)},
                         {"date_offset_days", results[i].date_offset_days},
                         {"uids", std::move(results[i].uids)},
                         {"hashes", std::move(results[i].hashes)}};
            }
            jobs[i].session->send(jobs[i].seq, reply);
        }
        // One line per batch, not per question: a flood of refused questions cannot flood the log.
        if (refused > 0)
            log_line("warning", std::to_string(refused) + " request(s) of a batch refused: " + first_refusal);
    }

    asio::io_context& io_;
    MapStore& db_;
    MappingIssuer issuer_;
    const config::Keystore& settings_;
    Clock::time_point started_;
    std::int64_t patients_ = 0, uids_ = 0;
    std::uint64_t requests_ = 0, batches_ = 0, rejected_ = 0, sessions_ = 0;
    std::uint64_t rate_limited_ = 0, connections_refused_ = 0, alarms_ = 0, idle_closed_ = 0, evicted_ = 0;
    std::vector<std::weak_ptr<Session>> sessions_list_;
    std::shared_ptr<std::uint64_t> live_sessions_ = std::make_shared<std::uint64_t>(0);
    std::vector<Job> pending_;
    bool flush_scheduled_ = false;
    IntervalCounts interval_;
    Clock::time_point interval_started_ = Clock::now();
    asio::steady_timer audit_timer_;
};

Session::Session(Protocol::socket socket, Broker& broker, std::uint64_t id)
    : socket_(std::move(socket)),
      broker_(broker),
      limits_(broker.limits()),
      live_(broker.live_counter()),
      id_(id),
      question_tokens_(limits_.questions_per_second),
      value_tokens_(limits_.values_per_second),
      rate_timer_(socket_.get_executor()),
      frame_timer_(socket_.get_executor()),
      idle_timer_(socket_.get_executor()) {}

Session::~Session() {
    if (counted_) --*live_;
}

void Session::arm_idle_timer() {
    idle_timer_.expires_at(last_request_ + std::chrono::seconds(limits_.idle_seconds));
    idle_timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_idle_timer(ec); });
}

void Session::on_idle_timer(const error_code& ec) {
    if (ec || dead_ || closing_) return;
    const auto now = Clock::now();
    const auto limit = std::chrono::seconds(limits_.idle_seconds);
    Clock::time_point since;
    if (now - last_request_ >= limit) {
        if (idle(since) || (!inbuf_.empty() && slots_.empty() && !writing_ && !complete_frame_waiting())) {
            broker_.count_idle_closed();
            log_line("debug", "connection " + std::to_string(id_) + ": no complete request for " +
                                  std::to_string(limits_.idle_seconds) + " s (keystore.limits.idle_seconds); closed");
            close_now();
            return;
        }
        last_request_ = now;  // owed replies or a question waiting for its token: not idle
    }
    arm_idle_timer();
}

void Session::close_now() {
    error_code ignored;
    socket_.shutdown(Protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
    dead_ = true;
    rate_timer_.cancel();
    frame_timer_.cancel();
    idle_timer_.cancel();
    if (counted_) {
        counted_ = false;
        --*live_;
    }
}

void Session::do_read() {
    if (reading_ || closing_ || dead_ || rate_waiting_) return;
    reading_ = true;
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
        self->on_read(ec, n);
    });
}

void Session::on_read(const error_code& ec, std::size_t n) {
    reading_ = false;
    if (ec) {  // closed by the client: replies still owed are dropped
        dead_ = true;
        rate_timer_.cancel();
        frame_timer_.cancel();
        idle_timer_.cancel();
        return;
    }
    if (inbuf_.empty()) frame_started_ = Clock::now();
    inbuf_.append(chunk_.data(), n);
    parse_frames();
    maybe_resume_reading();
}

bool Session::complete_frame_waiting() const {
    if (inbuf_.size() < 4) return false;
    const std::uint32_t length = frame_length(reinterpret_cast<const unsigned char*>(inbuf_.data()));
    return length <= static_cast<std::uint32_t>(limits_.max_frame_bytes) && inbuf_.size() - 4 >= length;
}

// Refills both buckets (one second's worth at most) and takes one question token; when a bucket
// is empty, arms the timer that resumes parsing once it has refilled.
bool Session::take_question_token() {
    const auto now = Clock::now();
    const double dt = std::chrono::duration<double>(now - refilled_).count();
    refilled_ = now;
    question_tokens_ = std::min<double>(limits_.questions_per_second, question_tokens_ + dt * limits_.questions_per_second);
    value_tokens_ = std::min<double>(limits_.values_per_second, value_tokens_ + dt * limits_.values_per_second);
    if (question_tokens_ >= 1 && value_tokens_ >= 0) {
        question_tokens_ -= 1;
        return true;
    }
    const double wait = std::max((1 - question_tokens_) / limits_.questions_per_second,
                                 -value_tokens_ / limits_.values_per_second);
    broker_.count_rate_limited();
    rate_waiting_ = true;
    rate_timer_.expires_after(std::chrono::microseconds(static_cast<long long>(wait * 1e6) + 1));
    rate_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        self->rate_waiting_ = false;
        if (ec || self->dead_) return;
        self->parse_frames();
        self->maybe_resume_reading();
    });
    return false;
}

void Session::parse_frames() {
    std::size_t at = 0;
    while (!closing_ && !rate_waiting_ && slots_.size() < kMaxInFlight && inbuf_.size() - at >= 4) {
        const std::uint32_t length = frame_length(reinterpret_cast<const unsigned char*>(inbuf_.data() + at));
        if (length > static_cast<std::uint32_t>(limits_.max_frame_bytes)) {
            const std::uint64_t seq = next_seq_++;
            slots_.emplace_back();
            reject(seq,
                   "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                       std::to_string(limits_.max_frame_bytes) + " bytes (keystore.limits.max_frame_bytes)",
                   true);
            inbuf_.clear();
            return;
        }
        if (inbuf_.size() - at - 4 < length) break;
        if (!take_question_token()) break;
        const std::uint64_t seq = next_seq_++;
        slots_.emplace_back();
        handle(inbuf_.data() + at + 4, length, seq);
        at += 4 + static_cast<std::size_t>(length);
        frame_started_ = last_request_ = Clock::now();  // the next frame's bytes (if any) are already here
    }
    inbuf_.erase(0, at);
    if (!inbuf_.empty()) arm_frame_timer();
}

void Session::arm_frame_timer() {
    if (frame_timer_armed_ || dead_ || closing_) return;
    frame_timer_armed_ = true;
    frame_timer_.expires_at(frame_started_ + std::chrono::seconds(limits_.frame_timeout_seconds));
    frame_timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_frame_timer(ec); });
}

void Session::on_frame_timer(const error_code& ec) {
    frame_timer_armed_ = false;
    if (ec || dead_ || closing_ || inbuf_.empty()) return;
    // A complete frame waiting for a token or a reply slot is not the client's slowness.
    if (complete_frame_waiting()) frame_started_ = Clock::now();
    else if (Clock::now() - frame_started_ >= std::chrono::seconds(limits_.frame_timeout_seconds)) {
        broker_.count_frame_timeout();
        log_line("debug", "connection " + std::to_string(id_) + ": a partial frame was not completed within " +
                              std::to_string(limits_.frame_timeout_seconds) +
                              " s (keystore.limits.frame_timeout_seconds); closed");
        inbuf_.clear();
        inbuf_.shrink_to_fit();
        close_now();
        return;
    }
    arm_frame_timer();
}

void Session::maybe_resume_reading() {
    if (closing_ || dead_ || rate_waiting_) return;
    if (slots_.size() < kMaxInFlight) {
        if (complete_frame_waiting()) {  // a complete frame waited for a free slot
            parse_frames();
            if (closing_ || rate_waiting_ || slots_.size() >= kMaxInFlight) return;
        }
        do_read();
    }
}

void Session::reject(std::uint64_t seq, const std::string& why, bool close_after) {
    broker_.count_rejected();
    // The first rejection of a connection is a warning, the rest debug (counted in the interval's
    // audit record): a client sending junk cannot flood the log.
    log_line(rejections_++ == 0 ? "warning" : "debug", "connection " + std::to_string(id_) + ": request rejected: " + why);
    send(seq, {{"ok", false}, {"error", why}}, close_after);
}

void Session::send(std::uint64_t seq, const json& reply, bool close_after) {
    if (seq < first_slot_ || seq - first_slot_ >= slots_.size()) return;
    slots_[static_cast<std::size_t>(seq - first_slot_)] = frame(reply.dump());
    if (close_after) closing_ = true;
    bool moved = false;
    while (!slots_.empty() && slots_.front()) {
        queued_ += *slots_.front();
        slots_.pop_front();
        ++first_slot_;
        moved = true;
    }
    if (moved) write_ready();
}

void Session::write_ready() {
    if (writing_ || dead_) return;
    if (queued_.empty()) {
        if (closing_ && slots_.empty()) close_now();
        return;
    }
    out_.swap(queued_);
    queued_.clear();
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->writing_ = false;
        self->out_.clear();
        if (ec) {
            self->dead_ = true;
            self->rate_timer_.cancel();
            self->frame_timer_.cancel();
            self->idle_timer_.cancel();
            return;
        }
        self->write_ready();
        self->maybe_resume_reading();
    });
}

// Checks one string field; the error names the field, never its value.
bool string_field(const json& j, const char* name, std::string& out, std::string& error) {
    if (!j.contains(name)) return true;
    const json& v = j[name];
    if (!v.is_string()) {
        error = std::string(name) + ": expected a string";
        return false;
    }
    out = v.get<std::string>();
    if (out.size() > kMaxValueBytes) {
        error = std::string(name) + ": longer than " + std::to_string(kMaxValueBytes) + " bytes";
        return false;
    }
    return true;
}

bool string_list(const json& j, const char* name, std::vector<std::string>& out, std::string& error) {
    if (!j.contains(name)) return true;
    const json& v = j[name];
    if (!v.is_array()) {
        error = std::string(name) + ": expected an array of strings";
        return false;
    }
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string() || v[i].get_ref<const std::string&>().empty() ||
            v[i].get_ref<const std::string&>().size() > kMaxValueBytes) {
            error = std::string(name) + "[" + std::to_string(i) + "]: expected a non-empty string of at most " +
                    std::to_string(kMaxValueBytes) + " bytes";
            return false;
        }
        out.push_back(v[i].get<std::string>());
    }
    return true;
}

void Session::handle(const char* data, std::size_t size, std::uint64_t seq) {
    json request;
    try {
        request = json::parse(data, data + size);
    } catch (const json::exception&) {
        reject(seq, "malformed request: not JSON (" + std::to_string(size) + " bytes)");
        return;
    }
    if (!request.is_object() || !request.contains("op") || !request["op"].is_string()) {
        reject(seq, "malformed request: expected a JSON object with a string \"op\"");
        return;
    }
    const std::string op = request["op"].get<std::string>();
    if (op == "health" || op == "stats") {
        send(seq, broker_.health());
        return;
    }
    if (op != "resolve") {
        reject(seq, "unknown request (known: resolve, health, stats)");
        return;
    }
    for (const auto& item : request.items()) {
        const std::string& k = item.key();
        if (k != "op" && k != "issuer" && k != "patient_id" && k != "uids" && k != "hashes" && k != "instance_uid") {
            reject(seq, "malformed resolve request: unknown field");
            return;
        }
    }
    Job job;
    std::string error;
    if (!string_field(request, "issuer", job.request.issuer, error) ||
        !string_field(request, "patient_id", job.request.patient_id, error) ||
        !string_list(request, "uids", job.request.uids, error) ||
        !string_list(request, "hashes", job.request.hashes, error) ||
        !string_field(request, "instance_uid", job.request.instance_uid, error)) {
        reject(seq, "malformed resolve request: " + error);
        return;
    }
    value_tokens_ -= static_cast<double>(job.request.uids.size() + job.request.hashes.size());
    job.session = shared_from_this();
    job.seq = seq;
    broker_.enqueue(std::move(job));
}

class Acceptor {
public:
    Acceptor(asio::io_context& io, const std::string& path, Broker& broker) : acceptor_(io), broker_(broker) {
        acceptor_.open(Protocol());
        acceptor_.bind(Protocol::endpoint(path));
        acceptor_.listen(asio::socket_base::max_listen_connections);
    }
    void start() { do_accept(); }
    void close() {
        error_code ignored;
        acceptor_.close(ignored);
    }

private:
    void do_accept() {
        acceptor_.async_accept([this](const error_code& ec, Protocol::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (broker_.admit()) {
                    auto session = std::make_shared<Session>(std::move(socket), broker_, broker_.next_session_id());
                    broker_.add_session(session);
                    session->start();
                } else {  // keystore.limits.max_connections, none idle: one refusal frame, closed,
                          // counted, summarised per interval. The client reports the error.
                    const std::string refusal = frame(
                        json{{"ok", false},
                             {"error", "connection refused: keystore.limits.max_connections (" +
                                           std::to_string(broker_.limits().max_connections) +
                                           ") connections are open and none is idle"}}
                            .dump());
                    error_code ignored;
                    socket.non_blocking(true, ignored);
                    asio::write(socket, asio::buffer(refusal), ignored);
                    socket.close(ignored);
                }
            }
            do_accept();
        });
    }
    Protocol::acceptor acceptor_;
    Broker& broker_;
};

// The lock that keeps a second broker off the same keystore: held until the process exits.
int take_lock(const std::string& keystore_dir) {
    const std::string path = keystore_dir + "/broker.lock";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw StartError(2, "cannot open the lock file " + path + ": " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        if (errno == EWOULDBLOCK)
            throw StartError(3, "another deid-keystore broker is already serving the keystore in " + keystore_dir +
                                    " (it holds " + path + "); refusing to start a second one");
        throw StartError(2, "cannot lock " + path + ": " + std::strerror(errno));
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) == 0 && write(fd, pid.data(), pid.size()) < 0) {
    }
    return fd;
}

bool something_answers(const std::string& path) {
    asio::io_context io;
    Protocol::socket s(io);
    error_code ec;
    s.connect(Protocol::endpoint(path), ec);
    return !ec;
}

void prepare_socket_path(const config::Config& config, const std::string& path, gid_t group, bool grouped) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::path(path).parent_path();
    const mode_t dir_mode = grouped ? 0710 : 0700;
    bool own_dir = config.keystore.socket.empty();  // state_dir/run belongs to this program
    if (!parent.empty() && !fs::exists(parent)) {
        fs::create_directories(parent.parent_path());
        if (mkdir(parent.c_str(), dir_mode) != 0 && errno != EEXIST)
            throw StartError(2, "cannot create the socket folder " + parent.string() + ": " + std::strerror(errno));
        own_dir = true;
    }
    if (own_dir && !parent.empty()) {
        if (grouped && chown(parent.c_str(), static_cast<uid_t>(-1), group) != 0)
            throw StartError(2, "cannot give the socket folder to the socket group: " + std::string(std::strerror(errno)));
        chmod(parent.c_str(), dir_mode);
    }
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw StartError(2, path + " exists and is not a socket; refusing to replace it");
        if (something_answers(path))
            throw StartError(3, "something already answers on " + path + "; refusing to start a second broker");
        unlink(path.c_str());  // left over from a broker that was killed
    }
}

}  // namespace

BrokerServer::BrokerServer(const config::Config& config, BrokerOptions options)
    : config_(config), options_(std::move(options)) {}

int BrokerServer::run() {
    umask(077);
    common::set_log_level(config_.log.level);
    common::set_log_format(config_.log.format);
    common::remember_log_target();
    const std::string dir = config_.keystore_dir();
    const std::string socket_path = config_.broker_socket();
    int lock_fd = -1;
    bool listening = false;  // this process made the socket: only then is it ours to remove
    try {
        gid_t group_id = 0;
        const bool grouped = !options_.socket_group.empty();
        if (grouped) {
            const struct group* g = getgrnam(options_.socket_group.c_str());
            if (!g) throw StartError(2, "unknown group for --socket-group: " + options_.socket_group);
            group_id = g->gr_gid;
        }
        prepare_keystore_dir(dir);
        lock_fd = take_lock(dir);
        const SecretBytes secret = SecretKey::load(dir, true);
        const KeyedDerivation derivation(secret, config_.keystore.date_offset_min_days,
                                         config_.keystore.date_offset_max_days);
        // The map: keystore.db here, or the PostgreSQL database several brokers share (issue 17).
        const std::unique_ptr<MapStore> store = open_map_store(config_, OpenMode::create);
        MapStore& db = *store;
        db.begin_immediate();
        const auto stored_check = db.meta("key_check");
        if (!stored_check) {
            db.set_meta("key_check", derivation.key_check());
            AuditLog(db).append("create", "", {{"keystore", dir}});
        }
        db.commit();
        // Read again: two brokers creating one shared database at once both see it empty, and
        // key_check is written once (PostgresMapStore), so the loser sees the winner's.
        if (db.meta("key_check") != derivation.key_check())
            throw StartError(2, "the secret key in " + dir + " does not belong to the keystore map (" + db.description() +
                                 "); refusing to start");

        prepare_socket_path(config_, socket_path, group_id, grouped);
        std::unique_ptr<WalCheckpointer> checkpointer;  // SQLite only
        if (auto* sqlite = dynamic_cast<KeystoreDatabase*>(store.get()))
            checkpointer = std::make_unique<WalCheckpointer>(*sqlite, dir + "/" + KeystoreDatabase::kFileName);
        asio::io_context io;
        Broker broker(io, db, derivation, config_.keystore);
        std::unique_ptr<Acceptor> acceptor;
        try {
            acceptor = std::make_unique<Acceptor>(io, socket_path, broker);
        } catch (const boost::system::system_error& e) {
            throw StartError(2, "cannot listen on " + socket_path + ": " + e.code().message());
        }
        listening = true;
        if (grouped && chown(socket_path.c_str(), static_cast<uid_t>(-1), group_id) != 0)
            throw StartError(2, "cannot give the socket to the socket group: " + std::string(std::strerror(errno)));
        chmod(socket_path.c_str(), grouped ? 0660 : 0600);

        // SIGHUP (logrotate): the log file is opened again under its name.
        asio::signal_set hangup(io, SIGHUP);
        std::function<void()> wait_hangup = [&] {
            hangup.async_wait([&](const error_code& ec, int) {
                if (ec) return;
                log_line("info", common::reopen_log() ? "SIGHUP: log file reopened"
                                                      : "SIGHUP: the log is not a file; nothing to reopen");
                wait_hangup();
            });
        };
        wait_hangup();
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const error_code& ec, int sig) {
            if (ec) return;
            log_line("info", std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
            acceptor->close();
            hangup.cancel();
            broker.close_interval();  // the last interval's counts are audited too
            io.stop();
        });
        acceptor->start();
        broker.start_audit_timer();
        log_line("info", "serving the keystore in " + dir + " (" + db.description() + ") on " + socket_path + " (" +
                             std::to_string(broker.health()["patients"].get<std::int64_t>()) + " patients, " +
                             std::to_string(broker.health()["uids"].get<std::int64_t>()) + " UIDs)");
        // A handler that throws (it should not) is logged; the broker keeps serving.
        while (true) {
            try {
                io.run();
                break;
            } catch (const std::exception& e) {
                log_line("error", std::string("unexpected error while serving: ") + e.what());
            }
        }
        unlink(socket_path.c_str());
        log_line("info", "stopped");
    } catch (const StartError& e) {
        log_line("error", e.what());
        if (listening) unlink(socket_path.c_str());  // a failed start leaves no stale socket behind
        return e.exit_code;
    } catch (const std::exception& e) {
        log_line("error", e.what());
        if (listening) unlink(socket_path.c_str());
        return 2;
    }
    if (lock_fd >= 0) close(lock_fd);
    return 0;
}

}  // namespace keystore
