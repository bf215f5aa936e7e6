#include "dimse/ReceiveFileStream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace {

// A file in TMPDIR, removed at the end of the test.
struct TempFile {
    std::string path;
    int fd = -1;
    TempFile() {
        std::string pattern = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/rfs.XXXXXX";
        fd = ::mkstemp(pattern.data());
        path = pattern;
    }
    ~TempFile() {
        if (fd >= 0) ::close(fd);
        ::unlink(path.c_str());
    }
    std::string content() const {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

}  // namespace

TEST_CASE("the receive stream keeps a copy of exactly the bytes it wrote to the file, within its limit") {
    TempFile f;
    REQUIRE(f.fd >= 0);
    dimse::ReceiveFileStream stream(f.fd);
    stream.consumer().keep_copy(100000);
    std::string written;
    for (int i = 0; i < 500; ++i) {
        const std::string piece = "element " + std::to_string(i) + ";";
        stream.write(piece.data(), static_cast<offile_off_t>(piece.size()));
        written += piece;
    }
    stream.flush();
    std::string copy;
    REQUIRE(stream.consumer().take_copy(copy));
    CHECK(copy == written);
    CHECK(f.content() == written);
}

TEST_CASE("the receive stream keeps no copy once the bytes exceed its limit, and the file still gets them all") {
    TempFile f;
    REQUIRE(f.fd >= 0);
    dimse::ReceiveFileStream stream(f.fd);
    stream.consumer().keep_copy(1000);
    const std::string block(600, 'x');
    stream.write(block.data(), static_cast<offile_off_t>(block.size()));
    stream.write(block.data(), static_cast<offile_off_t>(block.size()));
    stream.flush();
    std::string copy;
    CHECK_FALSE(stream.consumer().take_copy(copy));
    CHECK(copy.empty());
    CHECK(f.content() == block + block);
}

TEST_CASE("without keep_copy the receive stream keeps nothing") {
    TempFile f;
    REQUIRE(f.fd >= 0);
    dimse::ReceiveFileStream stream(f.fd);
    stream.write("abc", 3);
    stream.flush();
    std::string copy;
    CHECK_FALSE(stream.consumer().take_copy(copy));
    CHECK(f.content() == "abc");
}

TEST_CASE("memory first: within the limit nothing is opened, past it the file gets every byte, and a file that cannot be opened is an error with its errno") {
    const std::string part1(3000, 'a'), part2(2000, 'b');
    SECTION("within the limit") {
        int opened = 0;
        dimse::ReceiveFileStream stream(-1);
        stream.consumer().memory_first(5000, [&] { ++opened; return -1; });
        stream.write(part1.data(), part1.size());
        stream.write(part2.data(), part2.size());
        stream.flush();
        CHECK(stream.status().good());
        CHECK(stream.consumer().in_memory());
        CHECK(opened == 0);
        std::string copy;
        REQUIRE(stream.consumer().take_copy(copy));
        CHECK(copy == part1 + part2);
    }
    SECTION("past the limit, with a kept copy and without one") {
        for (std::size_t keep : {std::size_t{0}, std::size_t{1u << 20}}) {
            TempFile f;
            REQUIRE(f.fd >= 0);
            int opened = 0;
            {
                dimse::ReceiveFileStream stream(-1);
                stream.consumer().keep_copy(keep);
                stream.consumer().memory_first(4999, [&] { ++opened; return f.fd; });
                stream.write(part1.data(), part1.size());
                stream.write(part2.data(), part2.size());
                stream.flush();
                CHECK(stream.status().good());
                CHECK_FALSE(stream.consumer().in_memory());
                CHECK(stream.consumer().fd() == f.fd);
                std::string copy;
                CHECK(stream.consumer().take_copy(copy) == (keep > 0));
                if (keep > 0) CHECK(copy == part1 + part2);
            }
            CHECK(opened == 1);
            CHECK(f.content() == part1 + part2);
        }
    }
    SECTION("the file cannot be opened") {
        dimse::ReceiveFileStream stream(-1);
        stream.consumer().memory_first(100, [] { errno = ENOSPC; return -1; });
        stream.write(part1.data(), part1.size());
        CHECK(stream.status().bad());
        CHECK(stream.consumer().error_number() == ENOSPC);
        CHECK_FALSE(stream.consumer().in_memory());
        std::string copy;
        CHECK_FALSE(stream.consumer().take_copy(copy));
    }
}
