// Delivers to a DICOM peer over one kept-open association (dimse::StoreScu), over TLS when the
// destination has `tls` (docs/security.md, "TLS to destinations").
#pragma once

#include <memory>
#include <string>

#include "config/Config.h"
#include "forward/Sender.h"

class DcmTransportLayer;

namespace forward {

class DicomSender : public Sender {
public:
    // `association_timeout_seconds` > 0 bounds how long the peer may take to accept the association
    // (extra associations: a peer that serves fewer at a time must not hold an instance long).
    // `tls`: the destination's layer from tls_layer(), shared by its senders; empty = plain TCP.
    DicomSender(const config::Destination& destination, const config::Config& config,
                int association_timeout_seconds = 0, std::shared_ptr<DcmTransportLayer> tls = nullptr);
    // The TLS layer of a destination with `tls`, built once at start: its files are read and
    // checked (dimse::make_tls_layer). Empty for a plain destination; empty and `error` (starting
    // with `key_path`, naming the file and the reason) when they do not check out.
    static std::shared_ptr<DcmTransportLayer> tls_layer(const config::Destination& destination,
                                                        const std::string& key_path, std::string& error);
    bool connected() const override { return scu_.connected(); }
    using Sender::send;
    dimse::SendResult send(const std::string& path) override { return scu_.send_file(path); }
    dimse::SendResult send(const std::string& path, spool::ParsedInstance& parsed) override {
        if (!parsed) return scu_.send_file(path);
        return scu_.send_parsed(*parsed.file, parsed.transfer_syntax_uid);
    }

private:
    dimse::StoreScu scu_;
};

}  // namespace forward
