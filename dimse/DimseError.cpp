#include "dimse/DimseError.h"

namespace dimse {

namespace {
class Category : public std::error_category {
public:
    const char* name() const noexcept override { return "dimse"; }
    std::string message(int value) const override {
        switch (static_cast<DimseError>(value)) {
            case DimseError::ok: return "ok";
            case DimseError::network_init_failed: return "cannot open the listening socket";
            case DimseError::connect_failed: return "cannot connect to the peer";
            case DimseError::association_rejected: return "association rejected by the peer";
            case DimseError::no_presentation_context: return "no accepted presentation context for the SOP class";
            case DimseError::cannot_convert: return "cannot convert to an accepted transfer syntax";
            case DimseError::send_failed: return "DIMSE send failed";
            case DimseError::file_unreadable: return "cannot read the DICOM file";
            case DimseError::timeout: return "timeout";
            case DimseError::tls_failed: return "TLS handshake failed";
            case DimseError::peer_failure: return "the peer answered a failure status";
            case DimseError::sop_class_not_supported: return "the peer does not support the SOP class";
            case DimseError::write_failed: return "cannot write into the destination folder";
            case DimseError::invalid_uid: return "missing or invalid UID";
            case DimseError::tls_setup_failed: return "the TLS certificate, key or trusted certificates are unusable";
        }
        return "unknown dimse error";
    }
};
}  // namespace

const std::error_category& dimse_category() {
    static Category category;
    return category;
}

std::error_code make_error_code(DimseError e) { return {static_cast<int>(e), dimse_category()}; }

const char* reason_slug(std::error_code error) {
    if (!error) return "";
    if (error.category() != dimse_category()) return "send-failed";
    switch (static_cast<DimseError>(error.value())) {
        case DimseError::ok: return "";
        case DimseError::network_init_failed: return "network-init-failed";
        case DimseError::connect_failed: return "connect-failed";
        case DimseError::association_rejected: return "association-rejected";
        case DimseError::no_presentation_context: return "sop-class-not-supported";
        case DimseError::sop_class_not_supported: return "sop-class-not-supported";
        case DimseError::cannot_convert: return "cannot-decompress";
        case DimseError::send_failed: return "send-failed";
        case DimseError::file_unreadable: return "unreadable";
        case DimseError::timeout: return "timeout";
        case DimseError::tls_failed: return "tls-failed";
        case DimseError::peer_failure: return "peer-failure";
        case DimseError::write_failed: return "write-failed";
        case DimseError::invalid_uid: return "bad-uid";
        case DimseError::tls_setup_failed: return "tls-setup-failed";
    }
    return "send-failed";
}

}  // namespace dimse
