#include "dimse/HandOverTransportLayer.h"

#include <dcmtk/dcmnet/dul.h>

namespace dimse {

namespace {
// The hand-over running on this thread, if any.
struct HandOverState {
    HandOverTransportLayer::HandOver* hand_over = nullptr;
    bool created = false;
    std::shared_ptr<DcmTransportLayer> layer;
};
thread_local HandOverState t_current;
}  // namespace

std::mutex& HandOverTransportLayer::global_mutex() {
    static std::mutex m;
    return m;
}

DcmTransportConnection* HandOverTransportLayer::createConnection(DcmNativeSocketType openSocket, OFBool useSecureLayer) {
    if (t_current.hand_over) t_current.hand_over->release();
    t_current.created = true;  // from here DCMTK owns the socket: it closes it on failure too
    std::shared_ptr<DcmTransportLayer> layer = current_ ? current_() : nullptr;
    if (!layer) return nullptr;  // DCMTK closes the socket and reports a TCP initialisation error
    DcmTransportConnection* connection = layer->createConnection(openSocket, useSecureLayer);
    if (connection) t_current.layer = std::move(layer);
    return connection;
}

HandOverTransportLayer::HandOver::HandOver(DcmNativeSocketType socket) : lock_(global_mutex()) {
    dcmExternalSocketHandle.set(socket);
    t_current = HandOverState{this, false, nullptr};
}

HandOverTransportLayer::HandOver::~HandOver() {
    release();
    t_current.hand_over = nullptr;
}

void HandOverTransportLayer::HandOver::release() {
    if (!lock_.owns_lock()) return;
    dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    lock_.unlock();
}

bool HandOverTransportLayer::HandOver::connection_created() const { return t_current.created; }

std::shared_ptr<DcmTransportLayer> HandOverTransportLayer::HandOver::layer() const { return t_current.layer; }

}  // namespace dimse
