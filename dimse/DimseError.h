// Errors of the DIMSE module, with a std::error_code category (StoreScp::start). Send outcomes travel
// as dimse::SendResult values; DCMTK's OFCondition never leaves dimse/.
#pragma once

#include <string>
#include <system_error>

namespace dimse {

enum class DimseError {
    ok = 0,
    network_init_failed = 1,   // cannot bind / listen
    connect_failed,            // peer unreachable, association request not answered
    association_rejected,      // A-ASSOCIATE-RJ from the peer
    no_presentation_context,   // the peer accepted none of our contexts for this SOP class
    cannot_convert,            // the accepted transfer syntax needs a codec we do not have
    send_failed,               // DIMSE error or connection lost while sending
    file_unreadable,           // the spooled file cannot be parsed
    timeout,
    tls_failed,                // the TLS handshake failed (certificate not verified, no shared version...)
    peer_failure,              // the peer answered the C-STORE with a failure status
    sop_class_not_supported,   // the peer answered 0122 (SOP class not supported)
    write_failed,              // a folder destination could not be written
    invalid_uid,               // a UID that cannot name a file (folder destination)
    tls_setup_failed,          // the TLS listener's certificate, key or trusted certificates are unusable
};

const std::error_category& dimse_category();
std::error_code make_error_code(DimseError e);

// The quarantine folder name (quarantine/<slug>/) and metric label of a send error: the one table
// that turns an error code into text. "" for no error; "send-failed" for codes of other categories.
const char* reason_slug(std::error_code error);

}  // namespace dimse

namespace std {
template <>
struct is_error_code_enum<dimse::DimseError> : true_type {};
}  // namespace std
