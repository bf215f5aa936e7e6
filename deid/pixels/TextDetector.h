// Candidate text regions in a display image (8-bit, text bright): local-contrast strokes
// (white top-hat against an adaptive threshold), joined into words by a horizontal closing,
// kept when their connected components have text-like geometry. Each candidate says how
// strongly it stands out from its surroundings (`contrast_ratio`): strokes on a flat or
// noisy-but-even background score high; bright speckle inside anatomy scores low.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace deid::pixels {

struct TextCandidate {
    cv::Rect box;                // in display-image coordinates, padded to cover anti-aliasing
    double contrast_ratio = 0;   // (stroke mean - ring median) / robust ring noise
    double ring_noise = 0;       // robust noise (1.4826 x MAD) of the top-hat in the ring around the box
    double hue_spread = 0;       // colour frames: spread of the strokes' chromaticity (text ~0, Doppler high)
};

class TextDetector {
public:
    // Strokes that may belong to text: 255 where set.
    cv::Mat stroke_mask(const cv::Mat& grey8) const;
    // The contrast picture both use: white top-hat (15x15) of the 3x3-smoothed picture.
    static cv::Mat top_hat(const cv::Mat& grey8);
    // stroke_mask() from an already computed top_hat().
    static cv::Mat strokes_of_top_hat(const cv::Mat& tophat);
    std::vector<TextCandidate> detect(const cv::Mat& grey8) const;
    // Same, with the stroke mask already computed for `grey8`; `rgb8` (same size, may be empty)
    // gives hue_spread; `tophat` (may be empty) is top_hat(grey8) when the caller has it;
    // `join`: width of the closing that joins letters into words (7 px; wider for the rotated pass);
    // `max_width`: wider candidates are rules, not text (0: 90 % of the picture's width).
    std::vector<TextCandidate> detect(const cv::Mat& grey8, const cv::Mat& strokes, const cv::Mat& rgb8 = {},
                                      const cv::Mat& tophat = {}, int join = 7, int max_width = 0) const;
};

// Median and robust noise (1.4826 * MAD) of `grey8` in the ring of width `pad` around `box`.
void ring_statistics(const cv::Mat& grey8, const cv::Rect& box, int pad, double& median, double& noise);

}  // namespace deid::pixels
