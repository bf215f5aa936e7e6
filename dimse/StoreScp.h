// The receiving side: a Storage SCP (every storage SOP class DCMTK knows, the common transfer
// syntaxes) with Verification (C-ECHO). One thread per association, up to max_associations; the
// data set goes to a file bit-preserving, then CStoreHandler decides the status. DCMTK stays inside.
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

namespace dimse {

enum class LogLevel { debug, info, warning, error };
using LogSink = std::function<void(LogLevel, const std::string&)>;

struct ScpSettings {
    std::string ae_title = "DEIDGW";
    std::string bind = "127.0.0.1";
    int port = 11112;                          // 0 = ephemeral (see StoreScp::port())
    std::vector<std::string> allowed_calling_ae;  // empty = anyone
    int max_associations = 64;
    int acse_timeout_seconds = 30;
    int dimse_timeout_seconds = 60;
    std::string receive_dir;                   // where data sets are written while they arrive
    // Called with each receive file's path before the data set is written to it; may put a
    // recycled file there, which is written over (not truncated first) and then cut to the length
    // received, so that no inode and no block is allocated. May be empty.
    std::function<void(const std::string&)> prepare_receive_file;
    // Received files up to this size are parsed whole and handed to the handler in memory
    // (CStoreRequest::dataset); larger ones only structurally (values over 4 KiB stay on disk).
    std::uint64_t keep_parsed_bytes = 0;
    LogSink log;                               // observer; may be empty
    // Observers for metrics; may be empty. Called on the association's thread.
    std::function<void(bool accepted)> on_association;      // each association request, accepted or refused
    std::function<void(std::uint16_t status)> on_response;  // each C-STORE response status sent
    std::function<void()> on_aborted;                       // each accepted association that ends aborted
};

class StoreScp {
public:
    StoreScp(ScpSettings settings, CStoreHandler& handler);
    ~StoreScp();  // stop_accepting() + abort whatever is still running
    StoreScp(const StoreScp&) = delete;
    StoreScp& operator=(const StoreScp&) = delete;

    // Binds and starts the accept thread.
    std::error_code start();
    int port() const;  // the bound port

    // Stops accepting new associations (the listening socket closes); running ones go on.
    void stop_accepting();
    // Waits until no association is running, at most `limit`. True when none is left.
    bool wait_idle(std::chrono::milliseconds limit);
    // Running associations are aborted at their next poll (within about a second).
    void abort_all();
    int active_associations() const;
    // True between a successful start() and stop_accepting(): new associations are taken.
    bool accepting() const;

    struct Impl;  // public so the DCMTK callbacks in the .cpp can reach it

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace dimse
