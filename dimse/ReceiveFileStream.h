// The stream a C-STORE data set is received into: writes straight to a file descriptor (no stdio
// buffer, no second descriptor) and keeps the errno of a failed write, so a full disk is reported
// as such. It never syncs and never closes the descriptor: both stay with the caller.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcostrma.h>

namespace dimse {

class FileDescriptorConsumer : public DcmConsumer {
public:
    explicit FileDescriptorConsumer(int fd) : fd_(fd) {}
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool isFlushed() const override { return OFTrue; }  // nothing is buffered here
    offile_off_t avail() const override;
    offile_off_t write(const void* buf, offile_off_t buflen) override;
    void flush() override {}

    int error_number() const { return errno_; }  // of the write that failed, or 0

private:
    int fd_;
    OFCondition status_ = EC_Normal;
    int errno_ = 0;
};

class ReceiveFileStream : public DcmOutputStream {
public:
    explicit ReceiveFileStream(int fd) : DcmOutputStream(&consumer_), consumer_(fd) {}
    FileDescriptorConsumer& consumer() { return consumer_; }

private:
    FileDescriptorConsumer consumer_;
};

}  // namespace dimse
