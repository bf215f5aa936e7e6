// Delivers into a folder as <StudyUID>/<SeriesUID>/<SOPUID>.dcm (the de-identified UIDs), atomically:
// copy to a hidden temp name, fsync, rename, fsync the folder.
#pragma once

#include <string>

#include "dimse/InstanceInfo.h"
#include "forward/Sender.h"

namespace forward {

class FolderSender : public Sender {
public:
    explicit FolderSender(std::string directory) : directory_(std::move(directory)) {}
    using Sender::send;
    dimse::SendResult send(const std::string& path) override;
    // An output kept in memory (parsed.encoded) is written from there; else the file is copied.
    dimse::SendResult send(const std::string& path, spool::ParsedInstance& parsed) override;

private:
    dimse::SendResult deliver(const dimse::InstanceInfo& info, const std::string& path, const std::string* bytes);
    std::string directory_;
};

}  // namespace forward
