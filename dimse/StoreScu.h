// The sending side: a Storage SCU to one peer, one association at a time, kept open and reused.
// Proposes each instance's own transfer syntax plus uncompressed; decompresses with DCMTK's codecs
// when the peer takes only uncompressed. When the accepted transfer syntax is the file's, the data
// set goes on the wire as the file stores it (the bytes after its meta header: DIMSE sends the
// C-STORE request, DUL_WritePDVs the stored bytes) instead of being encoded again; otherwise DIMSE
// encodes it (docs/operations.md, "Forwarders: the stored data set sent as it is"). The association
// is DCMTK's ASC layer (DcmSCU keeps its association to itself). Not thread-safe: one StoreScu per
// sending thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "dimse/DimseError.h"

class DcmFileFormat;
class DcmTransportLayer;

namespace dimse {

struct ScuSettings {
    std::string calling_ae = "DEIDGW";
    std::string called_ae;
    std::string host;
    int port = 0;
    int acse_timeout_seconds = 30;
    int dimse_timeout_seconds = 60;
    // Called for each new association: the TLS layer to use (dimse::make_tls_layer, client role;
    // possibly rebuilt on SIGHUP), kept while that association is open. Unset = plain TCP. Either
    // way every connection has TCP_NODELAY.
    std::function<std::shared_ptr<DcmTransportLayer>()> transport;
};

struct SendResult {
    enum class Kind {
        Sent,     // the peer answered Success or a Warning
        Retry,    // connection, association or transient failure: try again later
        Refused,  // retrying cannot help (SOP class not supported, no usable transfer syntax)
    };
    Kind kind = Kind::Retry;
    std::uint16_t status = 0;  // the C-STORE response status when there was one
    std::error_code error;     // what failed (DimseError): the value decisions use; empty when Sent
    std::string detail;        // one line for logs; no PHI
    // The slug for quarantine/<reason>/ and metric labels, derived from `error` (reason_slug).
    std::string reason() const { return reason_slug(error); }
    bool resent = false;       // Sent on a new association after the kept-open one was dropped
    bool as_stored = false;    // Sent: the data set went as its file stores it (not encoded again)
};

class StoreScu {
public:
    explicit StoreScu(ScuSettings settings);
    ~StoreScu();  // releases the association
    StoreScu(const StoreScu&) = delete;
    StoreScu& operator=(const StoreScu&) = delete;

    SendResult send_file(const std::string& path);
    // The same instance already parsed, its values in memory (as written to `path` in
    // `transfer_syntax_uid`): the file is not parsed again. May be changed (decompressed). With
    // `path` (the file it was written to), the file's data set bytes are sent when they can be;
    // without it, DIMSE encodes `parsed`.
    SendResult send_parsed(DcmFileFormat& parsed, const std::string& transfer_syntax_uid, const std::string& path = {});
    // The same with the file's bytes in memory instead of a file (what would have been written,
    // in `transfer_syntax_uid`): its data set bytes are sent when they can be, from there.
    SendResult send_encoded(DcmFileFormat& parsed, const std::string& transfer_syntax_uid, const std::string& file_bytes);
    bool connected() const;
    void release();  // releases the association (next send opens a new one)

private:
    SendResult send(const std::string& path, DcmFileFormat* parsed, std::string file_ts, const std::string* file_bytes);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Registers DCMTK's decoders (JPEG, JPEG-LS, RLE) once per process.
void register_decoders();

}  // namespace dimse
