#include "spool/DirectorySync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace spool {

DirectorySync::DirectorySync(std::string directory) : directory_(std::move(directory)) {}

DirectorySync::~DirectorySync() {
    if (fd_ >= 0) ::close(fd_);
}

bool DirectorySync::sync() {
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
        // This fsync covers every ticket handed out so far: their renames happened before.
        running_ = true;
        const std::uint64_t covers = requested_;
        if (fd_ < 0) fd_ = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const int fd = fd_;
        lock.unlock();
        const int rc = fd < 0 ? -1 : ::fsync(fd);
        const int err = errno;
        lock.lock();
        running_ = false;
        ++syncs_;
        if (rc == 0) {
            completed_ = covers;
        } else {
            failed_ = covers;
            failed_errno_ = err;
            if (fd_ >= 0) ::close(fd_);
            fd_ = -1;  // reopened by the next attempt
        }
        done_cv_.notify_all();
    }
}

std::uint64_t DirectorySync::syncs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return syncs_;
}

}  // namespace spool
