// The cheap screen that keeps anatomy away from OCR on images that are not text-prone (CT, MR,
// CR, DX, MG, NM, ...): a detector candidate goes to OCR only when its strokes look like a line
// of glyphs (docs/pixels.md, "The screen"). Bone edges, metal, breast tissue, speckle and colour
// flow give one long curved component, blobs of uneven stroke width, or glyph heights all over
// the place; printed text gives several components of one height on one baseline, drawn with one
// pen (stroke width nearly constant and small against the glyph height).
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace deid::pixels {

struct ScreenMeasures {
    int glyphs = 0;              // components at least half as tall as the tallest
    double height_spread = 0;    // (max - min) / max glyph height
    double baseline_spread = 0;  // spread of glyph bottoms / tallest glyph height
    double stroke_width = 0;     // mean stroke width (2 x distance to the background on the ridge)
    double stroke_spread = 0;    // coefficient of variation of the ridge distances
    double height_per_stroke = 0;  // tallest glyph height / stroke width
};

class TextScreen {
public:
    // The first pass, before any per-region work (docs/pixels.md, "The screen"): the parts of a
    // grey frame (8 or 16 bits, its stored values) where thin high-contrast strokes (brighter or
    // darker than both pixels 3 or 6 px to their left and right) come at glyph spacing along
    // several rows in a row. Each area is padded for the detector's surroundings; empty = no
    // text-like strokes anywhere (the detector and OCR are not run). Reads every eighth row of the
    // frame, and the fourth rows between them next to a row with strokes at glyph spacing.
    static std::vector<cv::Rect> text_areas(const cv::Mat& grey);
    // The same with the range of values known (range_of(), or any estimate: values outside saturate).
    static std::vector<cv::Rect> text_areas(const cv::Mat& grey, double lo, double hi);
    // The range the first pass scales by: minimum and maximum of every eighth row (cheap; text
    // rows it misses only saturate).
    static void range_of(const cv::Mat& grey, double& lo, double& hi);
    // Every `every`-th row of `grey`, without a copy.
    static cv::Mat sampled_rows(const cv::Mat& grey, int every = 2);

    // `strokes`: the detector's stroke mask (255 = stroke); `box` a candidate in its coordinates.
    static ScreenMeasures measure(const cv::Mat& strokes, const cv::Rect& box);
    static bool looks_like_text(const ScreenMeasures& m);
    static bool looks_like_text(const cv::Mat& strokes, const cv::Rect& box) {
        return looks_like_text(measure(strokes, box));
    }
};

}  // namespace deid::pixels
