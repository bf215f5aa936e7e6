#include "forward/DicomSender.h"

#include <algorithm>

#include "dimse/Tls.h"

namespace forward {

namespace {
dimse::ScuSettings settings_for(const config::Destination& d, const config::Config& c, int association_timeout,
                                std::shared_ptr<DcmTransportLayer> tls) {
    dimse::ScuSettings s;
    s.calling_ae = d.calling_ae_title.empty() ? c.listen.ae_title : d.calling_ae_title;
    s.called_ae = d.ae_title;
    s.host = d.host;
    s.port = d.port;
    s.acse_timeout_seconds = association_timeout > 0 ? std::min(association_timeout, c.listen.acse_timeout_seconds)
                                                    : c.listen.acse_timeout_seconds;
    s.dimse_timeout_seconds = c.listen.dimse_timeout_seconds;
    s.transport = std::move(tls);
    return s;
}
}  // namespace

DicomSender::DicomSender(const config::Destination& destination, const config::Config& config,
                         int association_timeout_seconds, std::shared_ptr<DcmTransportLayer> tls)
    : scu_(settings_for(destination, config, association_timeout_seconds, std::move(tls))) {}

std::shared_ptr<DcmTransportLayer> DicomSender::tls_layer(const config::Destination& destination,
                                                          const std::string& key_path, std::string& error) {
    error.clear();
    if (!destination.tls) return nullptr;
    const config::DestinationTls& t = *destination.tls;
    dimse::TlsSettings settings;
    settings.certificate = t.certificate;
    settings.private_key = t.private_key;
    settings.trusted_certificates = t.trusted_certificates;
    settings.verify_peer = t.verify_peer;
    settings.server_name = t.server_name.empty() ? destination.host : t.server_name;
    std::string why;
    std::shared_ptr<DcmTLSTransportLayer> layer = dimse::make_tls_layer(dimse::TlsRole::client, settings, why);
    if (!layer) {
        error = key_path + ": " + (why.empty() ? "the TLS layer could not be built" : why);
        return nullptr;
    }
    return layer;
}

}  // namespace forward
