// The receiving side: a Storage SCP (every storage SOP class DCMTK knows, the common transfer
// syntaxes) with Verification (C-ECHO), on a plain port, a TLS port or both, with shared limits.
// One thread per connection: its request (and TLS handshake) is read there, so a slow or hostile
// client delays nobody. Up to max_associations; the data set goes to a file bit-preserving, then
// CStoreHandler decides the status. DCMTK stays inside.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "dimse/CStoreRequest.h"
#include "dimse/KnownCallers.h"
#include "dimse/Refusal.h"

namespace dimse {
struct TlsSettings;  // dimse/Tls.h
}


namespace dimse {

enum class LogLevel { debug, info, warning, error };
using LogSink = std::function<void(LogLevel, const std::string&)>;

// Per calling host and calling AE, so that one host (or a device that floods) cannot take every
// slot. Sized so that a normal PACS never meets them (docs/security.md).
struct ListenLimits {
    int connections_per_host = 40;         // open TCP connections from one address (associations + requests)
    int associations_per_host = 32;        // running associations from one address
    int associations_per_calling_ae = 32;  // running associations of one calling AE title
    int first_pdu_timeout_seconds = 10;    // connection open, nothing received yet
    // Refusals are logged one by one up to this many per interval, then summed up in one line.
    int refusal_log_burst = 20;
    int refusal_log_interval_seconds = 10;
};

struct ScpSettings {
    std::string ae_title = "DEIDGW";
    std::string bind = "127.0.0.1";
    int port = 11112;                          // plain listener; 0 = ephemeral (see port()), -1 = none
    int tls_port = -1;                         // TLS listener; 0 = ephemeral (see tls_port()), -1 = none
    // The TLS listener's files and options (dimse/Tls.h, server role); required when tls_port >= 0.
    std::shared_ptr<const TlsSettings> tls;
    std::vector<std::string> allowed_calling_ae;  // empty = anyone
    std::vector<KnownCaller> known_callers;       // empty = anyone (allowed_calling_ae still applies)
    int max_associations = 64;
    // From the TCP connection to a complete A-ASSOCIATE-RQ (TLS handshake included), at most.
    int acse_timeout_seconds = 30;
    // Idle time between PDUs of a running association.
    int dimse_timeout_seconds = 60;
    ListenLimits limits;
    std::string receive_dir;                   // where data sets are written while they arrive
    // Called with each receive file's path before the data set is written to it; may put a
    // recycled file there, which is written over (not truncated first) and then cut to the length
    // received, so that no inode and no block is allocated. May be empty.
    std::function<void(const std::string&)> prepare_receive_file;
    // Received files up to this size are parsed whole and handed to the handler in memory
    // (CStoreRequest::dataset); larger ones only structurally (values over 4 KiB stay on disk).
    std::uint64_t keep_parsed_bytes = 0;
    // A data set whose file (meta header included) stays within this many bytes is received into
    // memory and handed over as CStoreRequest::data, with no file made (prepare_receive_file is not
    // called for it); a larger one goes into its receive file from the byte that crosses this
    // limit on. 0: every data set is received into a file. At most 256 KiB (larger values are cut).
    std::uint64_t memory_bytes = 0;
    // Received files larger than this get their write-back started before the handler runs, so
    // that the handler's fdatasync waits for less; smaller ones are left to the kernel (a handler
    // that makes them durable another way, e.g. a journal, does not need their blocks on disk yet).
    std::uint64_t start_write_back_above_bytes = 0;
    LogSink log;                               // observer; may be empty
    // Observers for metrics; may be empty. Called on the association's thread.
    std::function<void(bool accepted)> on_association;      // each association request, accepted or refused
    std::function<void(std::uint16_t status)> on_response;  // each C-STORE response status sent
    std::function<void()> on_aborted;                       // each accepted association that ends aborted
    std::function<void(Refusal)> on_refused;                 // each refused connection or association
};

class StoreScp {
public:
    StoreScp(ScpSettings settings, CStoreHandler& handler);
    ~StoreScp();  // stop_accepting() + abort whatever is still running
    StoreScp(const StoreScp&) = delete;
    StoreScp& operator=(const StoreScp&) = delete;

    // Binds and starts the accept thread. With a TLS port, first reads and checks the TLS files
    // (DimseError::tls_setup_failed; tls_error() says which file and why).
    std::error_code start();
    // Reads the TLS files again (SIGHUP): the next TLS association uses them, running ones finish
    // with the ones they started with. On failure the previous ones stay in use; false and
    // tls_error() tell why.
    bool reload_tls();
    std::string tls_error() const;  // the last TLS setup failure: names the file, never its content
    int port() const;      // the bound plain port (0 when none)
    int tls_port() const;  // the bound TLS port (0 when none)

    // Stops accepting new associations (the listening socket closes); running ones go on.
    void stop_accepting();
    // Waits until no association is running, at most `limit`. True when none is left.
    bool wait_idle(std::chrono::milliseconds limit);
    // Running associations are aborted at their next poll (within about a second).
    void abort_all();
    int active_associations() const;
    // True between a successful start() and stop_accepting(): new associations are taken.
    bool accepting() const;
    // Refusals so far, by reason (also reported one by one to on_refused).
    std::uint64_t refusals(Refusal why) const;

    struct Impl;  // public so the DCMTK callbacks in the .cpp can reach it

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace dimse
