#include "spool/DirectorySync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace spool {

DirectorySync::DirectorySync(std::string directory)
    : directory_(std::move(directory)), group_([this] { return fsync_once(); }) {}

DirectorySync::~DirectorySync() {
    if (fd_ >= 0) ::close(fd_);
}

bool DirectorySync::fsync_once() {
    if (fd_ < 0) fd_ = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return false;
    if (::fsync(fd_) == 0) return true;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;  // reopened by the next attempt
    errno = err;
    return false;
}

}  // namespace spool
