// Hands an accepted socket to DCMTK without making anyone else wait for it. Internal to dimse/.
//
// DCMTK 3.6.7 takes an already accepted socket only from the process-wide dcmExternalSocketHandle
// (its inetd mode). dul.cc's receiveTransportConnectionTCP reads that global once, at its top, and
// then calls the network's transport layer's createConnection(socket, ...); only after that come
// the TLS handshake (serverSideHandshake) and, back in DUL_ReceiveAssociationRQ, the reading of the
// A-ASSOCIATE-RQ. Nothing after createConnection reads the global again (checked in the 3.6.7
// source: its other reader is initializeNetworkTCP, i.e. ASC_initializeNetwork). So a hand-over
// holds one process-wide mutex from setting the global until createConnection, where this layer
// clears the global and releases the mutex: the handshake and the request are then read on the
// connection's own thread, bounded by the listener's deadlines, and delay nobody.
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dcmlayer.h>

namespace dimse {

class HandOverTransportLayer : public DcmTransportLayer {
public:
    // The layer that makes the connection (plain TCP_NODELAY, or the current TLS layer, which a
    // certificate reload replaces); called once per connection.
    using Current = std::function<std::shared_ptr<DcmTransportLayer>()>;
    explicit HandOverTransportLayer(Current current) : current_(std::move(current)) {}

    DcmTransportConnection* createConnection(DcmNativeSocketType openSocket, OFBool useSecureLayer) override;

    // The mutex that guards dcmExternalSocketHandle; also held around ASC_initializeNetwork.
    static std::mutex& global_mutex();

    // One hand-over on the calling thread: sets the global for `socket` under the mutex, until
    // createConnection (or the end of this object) releases both.
    class HandOver {
    public:
        explicit HandOver(DcmNativeSocketType socket);
        ~HandOver();
        HandOver(const HandOver&) = delete;
        HandOver& operator=(const HandOver&) = delete;
        // True once DCMTK reached createConnection: it then owns the socket and closes it.
        bool connection_created() const;
        // The inner layer that made the connection: keep it while the association runs.
        std::shared_ptr<DcmTransportLayer> layer() const;
        void release();  // clears the global and unlocks (idempotent)

    private:
        std::unique_lock<std::mutex> lock_;
    };

private:
    Current current_;
};

}  // namespace dimse
