// What the engine applies: the PS3.15 options, site rules and rejections of config `profile`,
// plus the keystore's default issuer. Built once from the config; read-only afterwards.
#pragma once

#include <string>
#include <vector>

#include "config/Config.h"

namespace deid {

struct Profile {
    // PS3.15 Annex E options (config names in brackets).
    bool retain_safe_private = false;              // retain_safe_private
    bool retain_uids = false;                      // retain_uids
    bool retain_device_identity = false;           // retain_device_identity
    bool retain_institution_identity = false;      // retain_institution_identity
    bool retain_patient_characteristics = false;   // retain_patient_characteristics
    bool retain_long_full_dates = false;           // retain_long_full_dates
    bool retain_long_modified_dates = false;       // retain_long_modified_dates
    bool clean_descriptors = false;                // clean_descriptors
    bool clean_structured_content = false;         // clean_structured_content
    bool clean_graphics = false;                   // clean_graphics
    bool clean_pixel_data = false;                 // clean_pixel_data (done by pixels::PixelCleaner)
    bool clean_recognizable_visual_features = false;  // clean_recognizable_visual_features

    bool keep_ages_over_89 = false;  // profile.keep_ages_over_89: else ages over 89 become 090Y

    std::vector<config::Rule> rules;
    std::vector<config::Reject> reject;
    std::string default_issuer;  // Issuer of Patient ID when the instance has none

    // The config section it came from (for the verifier, which takes config::Profile).
    config::Profile source;

    static Profile from_config(const config::Config& config);
    static Profile from_config(const config::Profile& profile, const std::string& default_issuer = "");
};

}  // namespace deid
