// The stream a C-STORE data set is received into: writes straight to a file descriptor and asks
// the kernel to start writing each 128 KiB to disk as soon as it is complete
// (sync_file_range(SYNC_FILE_RANGE_WRITE)), so the disk works while the rest of the data set is
// still arriving and the fdatasync before Success only waits for the tail. It never syncs, and it
// never closes the descriptor: both stay with the caller.
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

    // Starts writing back what is not yet on its way (the tail, smaller than a chunk).
    void start_writeback();
    offile_off_t written() const { return written_; }
    int error_number() const { return errno_; }

private:
    int fd_;
    OFCondition status_ = EC_Normal;
    int errno_ = 0;
    offile_off_t start_ = -1;      // the descriptor's offset when the first byte came
    offile_off_t written_ = 0;     // bytes written through this consumer
    offile_off_t kicked_ = 0;      // of which writeback was started for the first kicked_
};

class ReceiveFileStream : public DcmOutputStream {
public:
    explicit ReceiveFileStream(int fd) : DcmOutputStream(&consumer_), consumer_(fd) {}
    FileDescriptorConsumer& consumer() { return consumer_; }

private:
    FileDescriptorConsumer consumer_;
};

}  // namespace dimse
