// Delivers to a DICOM peer over one kept-open association (dimse::StoreScu), over TLS when the
// destination has `tls` (docs/security.md, "TLS to destinations").
#pragma once

#include <memory>
#include <string>

#include "config/Config.h"
#include "forward/Sender.h"

namespace forward {

class TlsLayerSource;

class DicomSender : public Sender {
public:
    // `association_timeout_seconds` > 0 bounds how long the peer may take to accept the association
    // (extra associations: a peer that serves fewer at a time must not hold an instance long).
    // `tls`: the destination's TLS layer source (TlsLayerSource.h), shared by its senders; each
    // new association takes its current layer. Empty = plain TCP.
    DicomSender(const config::Destination& destination, const config::Config& config,
                int association_timeout_seconds = 0, std::shared_ptr<TlsLayerSource> tls = nullptr);
    bool connected() const override { return scu_.connected(); }
    using Sender::send;
    dimse::SendResult send(const std::string& path) override { return scu_.send_file(path); }
    dimse::SendResult send(const std::string& path, spool::ParsedInstance& parsed) override {
        if (!parsed) return scu_.send_file(path);
        if (!parsed.encoded.empty()) return scu_.send_encoded(*parsed.file, parsed.transfer_syntax_uid, parsed.encoded);
        return scu_.send_parsed(*parsed.file, parsed.transfer_syntax_uid, path);
    }

private:
    dimse::StoreScu scu_;
};

}  // namespace forward
