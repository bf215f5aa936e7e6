// Which instances get their pixels examined (docs/pixels.md, "Scope"): Burned In Annotation YES,
// a text-prone Modality or SOP Class, or a region template matching Manufacturer, Model, Rows and
// Columns. Reading a few header attributes is all an out-of-scope instance costs.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "config/Config.h"

class DcmDataset;

namespace deid::pixels {

struct Scope {
    bool in_scope = false;
    std::vector<cv::Rect> template_rects;  // from every matching region template
};

class ScopeRules {
public:
    explicit ScopeRules(const config::Pixels& config) : config_(config) {}
    Scope evaluate(DcmDataset& dataset) const;

private:
    const config::Pixels& config_;
};

}  // namespace deid::pixels
