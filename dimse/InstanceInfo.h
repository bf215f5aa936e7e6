// The few attributes of a spooled file the gateway routes and names files by, read with DCMTK
// (large values stay on disk). For de-identified files these are pseudonymous and safe to log.
#pragma once

#include <optional>
#include <string>

class DcmFileFormat;

namespace dimse {

struct InstanceInfo {
    std::string sop_class_uid;
    std::string sop_instance_uid;
    std::string study_instance_uid;
    std::string series_instance_uid;
    std::string modality;
    std::string manufacturer;
    std::string transfer_syntax_uid;
};

// nullopt when the file cannot be parsed.
std::optional<InstanceInfo> read_instance_info(const std::string& path);
// The same of a file already parsed (its transfer syntax: the one it was read in).
InstanceInfo instance_info(DcmFileFormat& file);

}  // namespace dimse
