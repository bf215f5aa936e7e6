// Group commit for a directory's fsync: concurrent writers that renamed a file into the same folder
// share one fsync of that folder instead of one each (GroupCommit). sync() returns once an fsync
// that started after the call has completed, so the caller's rename is durable when it returns true.
#pragma once

#include <cstdint>
#include <string>

#include "spool/GroupCommit.h"

namespace spool {

class DirectorySync {
public:
    explicit DirectorySync(std::string directory);
    ~DirectorySync();
    DirectorySync(const DirectorySync&) = delete;
    DirectorySync& operator=(const DirectorySync&) = delete;

    // False when the fsync covering this call failed (errno set).
    bool sync() { return group_.sync(); }
    // fsync calls actually made (tests and timing counters).
    std::uint64_t syncs() const { return group_.syncs(); }

private:
    bool fsync_once();  // one caller at a time (GroupCommit)
    std::string directory_;
    int fd_ = -1;  // opened on first use, reopened after a failure
    GroupCommit group_;
};

}  // namespace spool
