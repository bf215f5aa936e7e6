// One way to deliver a de-identified file to a destination: a DICOM peer (DicomSender) or a
// folder (FolderSender). One Sender per forwarding thread.
#pragma once

#include <string>

#include "dimse/StoreScu.h"
#include "spool/ParsedInstance.h"

namespace forward {

class Sender {
public:
    virtual ~Sender() = default;
    virtual dimse::SendResult send(const std::string& path) = 0;
    // The same instance, parsed (what `path` holds, in `parsed.transfer_syntax_uid`); with
    // `parsed.encoded`, its file's bytes, and `path` does not exist yet. A sender that has no use
    // for it sends the file.
    virtual dimse::SendResult send(const std::string& path, spool::ParsedInstance& parsed) {
        (void)parsed;
        return send(path);
    }
    // Whether a connection to the peer is open (a folder is always there).
    virtual bool connected() const { return true; }
};

}  // namespace forward
