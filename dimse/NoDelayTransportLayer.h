// A DCMTK transport layer that sets TCP_NODELAY on every connection it creates. DCMTK 3.6.7 does not,
// and Nagle's algorithm with delayed ACKs costs about 45 ms per instance (docs/architecture.md).
// Installed with ASC_setTransportLayer (SCP) and DcmSCU::useSecureConnection (SCU). Internal to dimse/.
#pragma once

#include <atomic>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dcmlayer.h>

namespace dimse {

class NoDelayTransportLayer : public DcmTransportLayer {
public:
    // Plain TCP whatever `useSecureLayer` says: DcmSCU asks for a "secure" connection once a
    // transport layer is installed, which here only means "ours".
    DcmTransportConnection* createConnection(DcmNativeSocketType openSocket, OFBool useSecureLayer) override;

    // Connections created with TCP_NODELAY set, process-wide (tests check the layer is in use).
    static long connections_created();

private:
    static std::atomic<long> created_;
};

}  // namespace dimse
