// Conditions of site rules and rejections (config::Match) against one instance.
#pragma once

#include <optional>
#include <string>

#include "config/Config.h"
#include "deid/Profile.h"

class DcmItem;

namespace deid {

// What conditions look at, read from the original instance before de-identification.
struct InstanceFacts {
    std::string modality;
    std::string sop_class_uid;
    std::string manufacturer;
    std::string calling_ae;
    static InstanceFacts of(DcmItem& dataset, const std::string& calling_ae = "");
};

// Each non-empty list must match: calling AE and SOP class exactly, modality case-insensitively,
// manufacturer as a case-insensitive substring.
bool matches(const config::Match& when, const InstanceFacts& facts);

// The reason of the first profile.reject rule that matches, if any.
std::optional<std::string> rejection_reason(const Profile& profile, const InstanceFacts& facts);

}  // namespace deid
