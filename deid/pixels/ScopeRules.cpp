#include "deid/pixels/ScopeRules.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>

namespace deid::pixels {

namespace {

// The value without leading/trailing spaces, as a view into the data set (no copy).
std::string_view text_of(DcmDataset& ds, const DcmTagKey& key) {
    const char* v = nullptr;
    if (ds.findAndGetString(key, v).bad() || !v) return {};
    std::string_view s(v);
    const auto b = s.find_first_not_of(' ');
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(' ');
    return s.substr(b, e - b + 1);
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

bool listed(const std::vector<std::string>& list, std::string_view v) {
    return !v.empty() && std::any_of(list.begin(), list.end(), [&](const std::string& s) { return iequal(s, v); });
}

}  // namespace

Scope ScopeRules::evaluate(DcmDataset& ds) const {
    Scope s;
    if (!config_.regions.empty()) {
        Uint16 rows = 0, columns = 0;
        ds.findAndGetUint16(DCM_Rows, rows);
        ds.findAndGetUint16(DCM_Columns, columns);
        const std::string manufacturer(text_of(ds, DCM_Manufacturer));
        const std::string model(text_of(ds, DCM_ManufacturerModelName));
        for (const config::Region& r : config_.regions) {
            if (!iequal(r.manufacturer, manufacturer)) continue;
            if (!r.model.empty() && !iequal(r.model, model)) continue;
            if (r.rows != rows || r.columns != columns) continue;
            for (const auto& rect : r.rects) s.template_rects.emplace_back(rect.x, rect.y, rect.width, rect.height);
        }
    }
    // Cheapest first; each is one look-up in the data set's element list.
    s.in_scope = !s.template_rects.empty() ||
                 listed(config_.text_prone_modalities, text_of(ds, DCM_Modality)) ||
                 iequal(text_of(ds, DCM_BurnedInAnnotation), "YES") ||
                 listed(config_.text_prone_sop_classes, text_of(ds, DCM_SOPClassUID));
    if (!s.in_scope && config_.screen_all_images) s.in_scope = s.screened_only = true;
    return s;
}

}  // namespace deid::pixels
