// The stream a C-STORE data set is received into: writes to a file descriptor the caller keeps (no
// stdio, no second descriptor) through a 64 KiB buffer, so the meta header's many small elements
// cost one write, and keeps the errno of a failed write, so a full disk is reported as such. It
// never syncs and never closes the descriptor: both stay with the caller.
#pragma once

#include <cstddef>
#include <memory>

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

private:
    bool write_out(const char* p, std::size_t n);
    static constexpr std::size_t kBufferBytes = 64 * 1024;
    int fd_;
    OFCondition status_ = EC_Normal;
    int errno_ = 0;
    std::unique_ptr<char[]> buffer_{new char[kBufferBytes]};
    std::size_t buffered_ = 0;
};

class ReceiveFileStream : public DcmOutputStream {
public:
    explicit ReceiveFileStream(int fd) : DcmOutputStream(&consumer_), consumer_(fd) {}
    FileDescriptorConsumer& consumer() { return consumer_; }

private:
    FileDescriptorConsumer consumer_;
};

}  // namespace dimse
