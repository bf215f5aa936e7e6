#include "dimse/NoDelayTransportLayer.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <dcmtk/dcmnet/dcmtrans.h>

namespace dimse {

std::atomic<long> NoDelayTransportLayer::created_{0};

DcmTransportConnection* NoDelayTransportLayer::createConnection(DcmNativeSocketType openSocket, OFBool) {
    int one = 1;
    if (setsockopt(openSocket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++created_;
    return new DcmTCPConnection(openSocket);
}

long NoDelayTransportLayer::connections_created() { return created_.load(); }

}  // namespace dimse
