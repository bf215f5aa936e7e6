#include "deid/Profile.h"

#include <stdexcept>

namespace deid {

Profile Profile::from_config(const config::Config& config) {
    return from_config(config.profile, config.keystore.default_issuer);
}

Profile Profile::from_config(const config::Profile& profile, const std::string& default_issuer) {
    Profile p;
    for (const std::string& o : profile.options) {
        if (o == "retain_safe_private") p.retain_safe_private = true;
        else if (o == "retain_uids") p.retain_uids = true;
        else if (o == "retain_device_identity") p.retain_device_identity = true;
        else if (o == "retain_institution_identity") p.retain_institution_identity = true;
        else if (o == "retain_patient_characteristics") p.retain_patient_characteristics = true;
        else if (o == "retain_long_full_dates") p.retain_long_full_dates = true;
        else if (o == "retain_long_modified_dates") p.retain_long_modified_dates = true;
        else if (o == "clean_descriptors") p.clean_descriptors = true;
        else if (o == "clean_structured_content") p.clean_structured_content = true;
        else if (o == "clean_graphics") p.clean_graphics = true;
        else if (o == "clean_pixel_data") p.clean_pixel_data = true;
        else if (o == "clean_recognizable_visual_features") p.clean_recognizable_visual_features = true;
        else throw std::invalid_argument("unknown profile option: " + o);
    }
    if (p.retain_long_full_dates && p.retain_long_modified_dates)
        throw std::invalid_argument("profile options retain_long_full_dates and retain_long_modified_dates exclude each other");
    p.keep_ages_over_89 = profile.keep_ages_over_89;
    p.rules = profile.rules;
    p.reject = profile.reject;
    p.default_issuer = default_issuer;
    p.source = profile;
    return p;
}

}  // namespace deid
