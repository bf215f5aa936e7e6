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
    tls_setup_failed,          // the TLS listener's certificate, key or trusted certificates are unusable
};

const std::error_category& dimse_category();
std::error_code make_error_code(DimseError e);

}  // namespace dimse

namespace std {
template <>
struct is_error_code_enum<dimse::DimseError> : true_type {};
}  // namespace std
