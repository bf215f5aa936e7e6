// Group commit: concurrent callers that each need a sync of the same file share one. sync()
// returns once a sync that *started* after the call has completed, so everything the caller wrote
// before calling it is covered when it returns true. Used for the incoming/ folder's fsync
// (DirectorySync) and for the reception journal's fdatasync (ReceptionJournal).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace spool {

class GroupCommit {
public:
    // `sync_once` makes the writes durable: true, or false with errno set. It is called by one
    // thread at a time, without the group's lock held.
    explicit GroupCommit(std::function<bool()> sync_once);
    GroupCommit(const GroupCommit&) = delete;
    GroupCommit& operator=(const GroupCommit&) = delete;

    // False when the sync covering this call failed (errno set).
    bool sync();
    // Syncs actually made (tests and timing counters).
    std::uint64_t syncs() const;

private:
    std::function<bool()> sync_once_;
    mutable std::mutex mutex_;
    std::condition_variable done_cv_;
    bool running_ = false;
    std::uint64_t requested_ = 0;  // tickets handed out
    std::uint64_t completed_ = 0;  // every ticket up to this one is durable
    std::uint64_t failed_ = 0;     // every ticket up to this one saw a failed sync
    int failed_errno_ = 0;
    std::uint64_t syncs_ = 0;
};

}  // namespace spool
