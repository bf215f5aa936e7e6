// Writes all of a buffer to a file descriptor (at its position or at an offset), resuming after
// short writes and EINTR.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace common {

namespace detail {

// `write_some(p, n)` writes up to n bytes from p, as write(2) answers.
template <typename WriteSome>
bool write_fully(const void* data, std::size_t length, WriteSome write_some) {
    const char* p = static_cast<const char*>(data);
    while (length > 0) {
        const ssize_t n = write_some(p, length);
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

}  // namespace detail

// False on a failure (errno set; ENOSPC when the file system took nothing).
inline bool write_all(int fd, const void* data, std::size_t length) {
    return detail::write_fully(data, length, [fd](const char* p, std::size_t n) { return ::write(fd, p, n); });
}

// The same at `offset` (pwrite), which the descriptor's file position does not follow.
inline bool pwrite_all(int fd, const void* data, std::size_t length, off_t offset) {
    return detail::write_fully(data, length, [fd, &offset](const char* p, std::size_t n) {
        const ssize_t written = ::pwrite(fd, p, n, offset);
        if (written > 0) offset += written;
        return written;
    });
}

}  // namespace common
