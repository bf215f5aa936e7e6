// Delivers to a DICOM peer over one kept-open association (dimse::StoreScu).
#pragma once

#include "config/Config.h"
#include "gateway/Sender.h"

namespace gateway {

class DicomSender : public Sender {
public:
    DicomSender(const config::Destination& destination, const config::Config& config);
    dimse::SendResult send(const std::string& path) override { return scu_.send_file(path); }

private:
    dimse::StoreScu scu_;
};

}  // namespace gateway
