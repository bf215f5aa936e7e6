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

}  // namespace dimse
