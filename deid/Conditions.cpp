#include "deid/Conditions.h"

#include "deid/DcmValues.h"

#include <algorithm>
#include <cctype>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>

namespace deid {

namespace {
std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
}  // namespace

InstanceFacts InstanceFacts::of(DcmItem& dataset, const std::string& calling_ae) {
    InstanceFacts f;
    f.modality = string_value(dataset, DCM_Modality);
    f.sop_class_uid = string_value(dataset, DCM_SOPClassUID);
    f.manufacturer = string_value(dataset, DCM_Manufacturer);
    f.calling_ae = trim(calling_ae);
    return f;
}

bool matches(const config::Match& when, const InstanceFacts& facts) {
    auto any = [](const std::vector<std::string>& list, auto pred) {
        return list.empty() || std::any_of(list.begin(), list.end(), pred);
    };
    return any(when.calling_ae, [&](const std::string& a) { return trim(a) == facts.calling_ae; }) &&
           any(when.modality, [&](const std::string& m) { return lower(trim(m)) == lower(facts.modality); }) &&
           any(when.sop_class, [&](const std::string& s) { return trim(s) == facts.sop_class_uid; }) &&
           any(when.manufacturer, [&](const std::string& m) {
               return !facts.manufacturer.empty() && lower(facts.manufacturer).find(lower(m)) != std::string::npos;
           });
}

std::optional<std::string> rejection_reason(const Profile& profile, const InstanceFacts& facts) {
    for (const config::Reject& r : profile.reject)
        if (!r.when.empty() && matches(r.when, facts)) return r.reason;
    return std::nullopt;
}

}  // namespace deid
