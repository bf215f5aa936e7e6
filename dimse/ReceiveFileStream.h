// The stream a C-STORE data set is received into: writes to a file descriptor the caller keeps (no
// stdio, no second descriptor) through a 64 KiB buffer, so the meta header's many small elements
// cost one write, and keeps the errno of a failed write, so a full disk is reported as such. It
// never syncs and never closes the descriptor: both stay with the caller. With keep_copy(limit) it
// also keeps the bytes written in memory while they stay within `limit`, so that a small data set
// can be parsed from memory instead of being read back from the file it was just written to.
// With memory_first(limit, open) it starts without a descriptor: the bytes stay in memory while
// they fit in `limit`, and only a data set that grows past it gets its file (opened then, its bytes
// so far written first).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcostrma.h>

namespace dimse {

class FileDescriptorConsumer : public DcmConsumer {
public:
    explicit FileDescriptorConsumer(int fd) : fd_(fd) {}
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool isFlushed() const override { return buffered_ == 0; }
    offile_off_t avail() const override;
    offile_off_t write(const void* buf, offile_off_t buflen) override;
    void flush() override;

    int error_number() const { return errno_; }  // of the write that failed, or 0
    // Keeps everything in memory up to `limit` bytes; opens the file with `open` (a descriptor, or
    // -1 with errno set) only when more comes. Before the first write; the consumer was made with -1.
    void memory_first(std::size_t limit, std::function<int()> open) {
        memory_limit_ = limit;
        open_ = std::move(open);
    }
    // The descriptor written to: the one given, the one opened past the memory limit, or -1 (all in memory).
    int fd() const { return fd_; }
    bool in_memory() const { return fd_ < 0 && memory_limit_ > 0 && status_.good(); }
    // Keeps a copy of everything written while the total stays within `limit` bytes (0: none).
    void keep_copy(std::size_t limit) { copy_limit_ = limit; }
    // Every byte written (moved out), or false when none was kept (no keep_copy, over its limit,
    // a failed write).
    bool take_copy(std::string& out) {
        if (in_memory()) {
            out = std::move(copy_);
            memory_limit_ = 0;
            return true;
        }
        if (copy_limit_ == 0 || status_.bad()) return false;
        out = std::move(copy_);
        copy_limit_ = 0;
        return true;
    }

private:
    bool write_out(const char* p, std::size_t n);
    bool spill();  // past the memory limit: opens the file and writes what memory held
    static constexpr std::size_t kBufferBytes = 64 * 1024;
    int fd_;
    OFCondition status_ = EC_Normal;
    int errno_ = 0;
    std::unique_ptr<char[]> buffer_{new char[kBufferBytes]};
    std::size_t buffered_ = 0;
    std::size_t copy_limit_ = 0;
    std::string copy_;  // the kept copy; while in memory, every byte so far
    std::size_t memory_limit_ = 0;
    std::function<int()> open_;
};

class ReceiveFileStream : public DcmOutputStream {
public:
    explicit ReceiveFileStream(int fd) : DcmOutputStream(&consumer_), consumer_(fd) {}
    FileDescriptorConsumer& consumer() { return consumer_; }

private:
    FileDescriptorConsumer consumer_;
};

}  // namespace dimse
