#include "forward/DicomSender.h"

#include <algorithm>

#include "forward/TlsLayerSource.h"

namespace forward {

namespace {
dimse::ScuSettings settings_for(const config::Destination& d, const config::Config& c, int association_timeout,
                                std::shared_ptr<TlsLayerSource> tls) {
    dimse::ScuSettings s;
    s.calling_ae = d.calling_ae_title.empty() ? c.listen.ae_title : d.calling_ae_title;
    s.called_ae = d.ae_title;
    s.host = d.host;
    s.port = d.port;
    s.acse_timeout_seconds = association_timeout > 0 ? std::min(association_timeout, c.listen.acse_timeout_seconds)
                                                    : c.listen.acse_timeout_seconds;
    s.dimse_timeout_seconds = c.listen.dimse_timeout_seconds;
    if (tls) s.transport = [tls] { return tls->current(); };
    return s;
}
}  // namespace

DicomSender::DicomSender(const config::Destination& destination, const config::Config& config,
                         int association_timeout_seconds, std::shared_ptr<TlsLayerSource> tls)
    : scu_(settings_for(destination, config, association_timeout_seconds, std::move(tls))) {}

}  // namespace forward
