// Which instances get their pixels examined and how (docs/pixels.md, "Scope"): Burned In
// Annotation YES, a text-prone Modality or SOP Class, or a region template matching Manufacturer,
// Model, Rows and Columns; every other image only screened (`pixels.screen_all_images`).
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "config/Config.h"

class DcmDataset;

namespace deid::pixels {

struct Scope {
    bool in_scope = false;
    // In scope only through `pixels.screen_all_images` (no forcing rule, not text-prone): the
    // screen picks candidates and only text OCR confirms is cleaned (nothing is "certain").
    bool screened_only = false;
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
