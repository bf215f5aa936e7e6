#include "dimse/ReceiveFileStream.h"

#include "common/WriteAll.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <dcmtk/dcmdata/dcerror.h>

namespace dimse {

offile_off_t FileDescriptorConsumer::avail() const { return status_.good() ? INT_MAX : 0; }

bool FileDescriptorConsumer::write_out(const char* p, std::size_t n) {
    if (common::write_all(fd_, p, n)) return true;
    errno_ = errno;
    status_ = makeOFCondition(OFM_dcmdata, 18, OF_error, std::strerror(errno_));
    return false;
}

bool FileDescriptorConsumer::spill() {
    fd_ = open_ ? open_() : -1;
    memory_limit_ = 0;
    if (fd_ < 0) {
        errno_ = errno != 0 ? errno : EIO;
        status_ = makeOFCondition(OFM_dcmdata, 18, OF_error, std::strerror(errno_));
        return false;
    }
    if (!write_out(copy_.data(), copy_.size())) return false;
    if (copy_.size() > copy_limit_) {
        copy_limit_ = 0;
        std::string().swap(copy_);
    }
    return true;
}

offile_off_t FileDescriptorConsumer::write(const void* buf, offile_off_t buflen) {
    if (status_.bad() || buflen <= 0) return 0;
    const auto n = static_cast<std::size_t>(buflen);
    if (fd_ < 0 && memory_limit_ > 0) {
        if (copy_.size() + n <= memory_limit_) {
            copy_.append(static_cast<const char*>(buf), n);
            return buflen;
        }
        if (!spill()) return 0;
    }
    if (copy_limit_ > 0) {
        if (copy_.size() + n <= copy_limit_) {
            copy_.append(static_cast<const char*>(buf), n);
        } else {
            copy_limit_ = 0;  // too large to keep: the file is read instead
            std::string().swap(copy_);
        }
    }
    if (buffered_ + n > kBufferBytes) {
        flush();
        if (status_.bad()) return 0;
    }
    if (n >= kBufferBytes) return write_out(static_cast<const char*>(buf), n) ? buflen : 0;
    std::memcpy(buffer_.get() + buffered_, buf, n);
    buffered_ += n;
    return buflen;
}

void FileDescriptorConsumer::flush() {
    if (buffered_ == 0 || status_.bad()) return;
    write_out(buffer_.get(), buffered_);
    buffered_ = 0;
}

}  // namespace dimse
