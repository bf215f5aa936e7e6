// Delivers to a DICOM peer over one kept-open association (dimse::StoreScu).
#pragma once

#include "config/Config.h"
#include "forward/Sender.h"

namespace forward {

class DicomSender : public Sender {
public:
    DicomSender(const config::Destination& destination, const config::Config& config);
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
