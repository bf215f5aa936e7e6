// An 8-bit grey picture of one frame in which burned-in text is bright: what detection and OCR
// look at. Grey frames are scaled min..max (MONOCHROME1 inverted); colour frames use the brightest
// sample per pixel (palette colour through its LUT, YBR_FULL through Y).
#pragma once

#include <opencv2/core.hpp>

#include "deid/pixels/FrameCodec.h"

namespace deid::pixels {

cv::Mat display_image(const cv::Mat& native, const ImageLayout& layout);

// True when the grey frame's values are its stored values as they are (signedness as the frame's
// depth, all within Bits Stored, `lo`..`hi` being its minimum and maximum): no masking needed.
bool plain_stored_values(const cv::Mat& native, const ImageLayout& layout, double lo, double hi);

// 8-bit RGB of a colour frame (RGB, YBR_FULL, PALETTE COLOR); empty for grey frames.
cv::Mat colour_image(const cv::Mat& native, const ImageLayout& layout);

}  // namespace deid::pixels
