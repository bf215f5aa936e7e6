#include "forward/TlsLayerSource.h"

#include "dimse/Tls.h"

namespace forward {

std::shared_ptr<TlsLayerSource> TlsLayerSource::make(const config::Destination& destination, const std::string& key_path,
                                                     std::string& error) {
    error.clear();
    if (!destination.tls) return nullptr;
    std::shared_ptr<TlsLayerSource> source(new TlsLayerSource(destination, key_path));
    if (!source->reload(error)) return nullptr;
    return source;
}

std::shared_ptr<DcmTransportLayer> TlsLayerSource::build(std::string& error) const {
    const config::DestinationTls& t = *destination_.tls;
    dimse::TlsSettings settings;
    settings.certificate = t.certificate;
    settings.private_key = t.private_key;
    settings.trusted_certificates = t.trusted_certificates;
    settings.verify_peer = t.verify_peer;
    settings.server_name = t.server_name.empty() ? destination_.host : t.server_name;
    std::string why;
    std::shared_ptr<DcmTLSTransportLayer> layer = dimse::make_tls_layer(dimse::TlsRole::client, settings, why);
    if (!layer) error = key_path_ + ": " + (why.empty() ? "the TLS layer could not be built" : why);
    return layer;
}

std::shared_ptr<DcmTransportLayer> TlsLayerSource::current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return layer_;
}

bool TlsLayerSource::reload(std::string& error) {
    error.clear();
    std::shared_ptr<DcmTransportLayer> fresh = build(error);
    if (!fresh) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    layer_ = std::move(fresh);  // associations that hold the previous one keep it until they end
    return true;
}

}  // namespace forward
