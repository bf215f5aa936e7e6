#include "forward/DicomSender.h"

namespace forward {

namespace {
dimse::ScuSettings settings_for(const config::Destination& d, const config::Config& c) {
    dimse::ScuSettings s;
    s.calling_ae = d.calling_ae_title.empty() ? c.listen.ae_title : d.calling_ae_title;
    s.called_ae = d.ae_title;
    s.host = d.host;
    s.port = d.port;
    s.acse_timeout_seconds = c.listen.acse_timeout_seconds;
    s.dimse_timeout_seconds = c.listen.dimse_timeout_seconds;
    return s;
}
}  // namespace

DicomSender::DicomSender(const config::Destination& destination, const config::Config& config)
    : scu_(settings_for(destination, config)) {}

}  // namespace forward
