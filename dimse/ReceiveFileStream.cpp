#include "dimse/ReceiveFileStream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <dcmtk/dcmdata/dcerror.h>

namespace dimse {

namespace {
constexpr offile_off_t kWritebackChunk = 128 * 1024;
}

offile_off_t FileDescriptorConsumer::avail() const { return status_.good() ? INT_MAX : 0; }

offile_off_t FileDescriptorConsumer::write(const void* buf, offile_off_t buflen) {
    if (status_.bad() || buflen <= 0) return 0;
    if (start_ < 0) start_ = ::lseek(fd_, 0, SEEK_CUR);
    const char* p = static_cast<const char*>(buf);
    offile_off_t done = 0;
    while (done < buflen) {
        const ssize_t n = ::write(fd_, p + done, static_cast<size_t>(buflen - done));
        if (n < 0) {
            if (errno == EINTR) continue;
            errno_ = errno;
            status_ = makeOFCondition(OFM_dcmdata, 18, OF_error, std::strerror(errno_));
            break;
        }
        done += n;
    }
    written_ += done;
    if (start_ >= 0 && written_ - kicked_ >= kWritebackChunk) {
        // Advisory: a failure here shows again, and is reported, at the fdatasync.
        ::sync_file_range(fd_, start_ + kicked_, written_ - kicked_, SYNC_FILE_RANGE_WRITE);
        kicked_ = written_;
    }
    return done;
}

void FileDescriptorConsumer::start_writeback() {
    if (start_ >= 0 && written_ > kicked_) {
        ::sync_file_range(fd_, start_ + kicked_, written_ - kicked_, SYNC_FILE_RANGE_WRITE);
        kicked_ = written_;
    }
}

}  // namespace dimse
