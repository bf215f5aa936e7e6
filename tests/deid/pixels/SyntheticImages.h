// Synthetic instances with burned-in text and an answer key: Hershey fonts (cv::putText) in
// several sizes and colours on plain, gradient, noisy and anatomy-like backgrounds, grey or RGB,
// one or more frames. Shared by the generator test and the benchmark.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

class DcmFileFormat;

namespace pixels_test {

enum class Background { black, dark, gradient, noise, anatomy };

struct TextBox {
    int frame = 0;
    cv::Rect box;        // where the text is
    std::string text;    // what it says
    cv::Mat text_pixels; // 8-bit mask (frame size) of the pixels the text changed
};

struct SyntheticCase {
    std::vector<cv::Mat> frames;  // CV_8UC1 or CV_8UC3 (RGB), as stored
    std::vector<TextBox> key;
};

// Renders `frames` frames of `size` with `lines` text lines each; rgb selects colour.
SyntheticCase make_case(cv::RNG& rng, cv::Size size, Background bg, bool rgb, int frames, int lines);

// A 16-bit CT-like frame without text.
cv::Mat make_ct_frame(cv::RNG& rng);

// An in-memory instance (US or OT for 8-bit, CT for 16-bit) holding the frames.
std::unique_ptr<DcmFileFormat> make_instance(const std::vector<cv::Mat>& frames, const char* modality);

}  // namespace pixels_test
