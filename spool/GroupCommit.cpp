#include "spool/GroupCommit.h"

#include <cerrno>

namespace spool {

GroupCommit::GroupCommit(std::function<bool()> sync_once) : sync_once_(std::move(sync_once)) {}

bool GroupCommit::sync() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t ticket = ++requested_;
    for (;;) {
        if (completed_ >= ticket) return true;
        if (failed_ >= ticket) {
            errno = failed_errno_;
            return false;
        }
        if (running_) {
            done_cv_.wait(lock);
            continue;
        }
        // This sync covers every ticket handed out so far: their writes happened before.
        running_ = true;
        const std::uint64_t covers = requested_;
        lock.unlock();
        const bool ok = sync_once_();
        const int err = errno;
        lock.lock();
        running_ = false;
        ++syncs_;
        if (ok) {
            completed_ = covers;
        } else {
            failed_ = covers;
            failed_errno_ = err;
        }
        done_cv_.notify_all();
    }
}

std::uint64_t GroupCommit::syncs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return syncs_;
}

}  // namespace spool
