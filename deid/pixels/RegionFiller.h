// Removes what is inside a box of a native frame; nothing outside the box changes.
#pragma once

#include <opencv2/core.hpp>

namespace deid::pixels {

class RegionFiller {
public:
    // Fills the whole box with its surroundings' value: the most common value of the ring around
    // it when that covers half the ring (flat overlays, and always for palette indices), otherwise
    // the per-sample median of the ring.
    static void fill_background(cv::Mat& native, const cv::Rect& box, bool indexed_colour);
    // Replaces only the stroke pixels (`strokes`, full-frame 8-bit mask) inside the box by
    // cv::inpaint (Telea). Falls back to fill_background for sample types inpaint cannot take.
    static void inpaint(cv::Mat& native, const cv::Rect& box, const cv::Mat& strokes);
};

}  // namespace deid::pixels
