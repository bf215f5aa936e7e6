#include "dimse/ReceiveFileStream.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <dcmtk/dcmdata/dcerror.h>

namespace dimse {

offile_off_t FileDescriptorConsumer::avail() const { return status_.good() ? INT_MAX : 0; }

offile_off_t FileDescriptorConsumer::write(const void* buf, offile_off_t buflen) {
    if (status_.bad() || buflen <= 0) return 0;
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
    return done;
}

}  // namespace dimse
