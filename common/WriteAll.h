// Writes all of a buffer to a file descriptor, resuming after short writes and EINTR.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace common {

// False on a failure (errno set; ENOSPC when the file system took nothing).
inline bool write_all(int fd, const void* data, std::size_t length) {
    const char* p = static_cast<const char*>(data);
    while (length > 0) {
        const ssize_t n = ::write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = ENOSPC;
            return false;
        }
        p += n;
        length -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace common
