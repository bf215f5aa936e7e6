// RLIMIT_FSIZE for a scope: writes past `bytes` fail with EFBIG (SIGXFSZ ignored), as ENOSPC
// would on a full disk, without filling one. Restored when the scope ends.
#pragma once

#include <sys/resource.h>

#include <csignal>

#include <catch2/catch.hpp>

namespace testsupport {

struct FileSizeLimit {
    rlimit saved{};
    void (*old_handler)(int) = nullptr;
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        old_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = saved;
        limit.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, old_handler);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
};

}  // namespace testsupport
