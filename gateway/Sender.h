// One way to deliver a de-identified file to a destination: a DICOM peer (DicomSender) or a
// folder (FolderSender). One Sender per forwarding thread.
#pragma once

#include <string>

#include "dimse/StoreScu.h"

namespace gateway {

class Sender {
public:
    virtual ~Sender() = default;
    virtual dimse::SendResult send(const std::string& path) = 0;
};

}  // namespace gateway
