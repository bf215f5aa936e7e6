// Group commit for a directory's fsync: concurrent writers that renamed a file into the same folder
// share one fsync of that folder instead of one each. sync() returns once an fsync that started
// after the call has completed, so the caller's rename is durable when it returns true.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace spool {

class DirectorySync {
public:
    explicit DirectorySync(std::string directory);
    ~DirectorySync();
    DirectorySync(const DirectorySync&) = delete;
    DirectorySync& operator=(const DirectorySync&) = delete;

    // False when the fsync covering this call failed (errno set).
    bool sync();
    // fsync calls actually made (tests and timing counters).
    std::uint64_t syncs() const;

private:
    std::string directory_;
    mutable std::mutex mutex_;
    std::condition_variable done_cv_;
    int fd_ = -1;
    bool running_ = false;
    std::uint64_t requested_ = 0;  // tickets handed out
    std::uint64_t completed_ = 0;  // every ticket up to this one is durable
    std::uint64_t failed_ = 0;     // every ticket up to this one saw a failed fsync
    int failed_errno_ = 0;
    std::uint64_t syncs_ = 0;
};

}  // namespace spool
