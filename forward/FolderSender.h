// Delivers into a folder as <StudyUID>/<SeriesUID>/<SOPUID>.dcm (the de-identified UIDs), atomically:
// copy to a hidden temp name, fsync, rename, fsync the folder.
#pragma once

#include <string>

#include "forward/Sender.h"

namespace forward {

class FolderSender : public Sender {
public:
    explicit FolderSender(std::string directory) : directory_(std::move(directory)) {}
    using Sender::send;
    dimse::SendResult send(const std::string& path) override;

private:
    std::string directory_;
};

}  // namespace forward
