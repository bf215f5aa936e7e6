#include "deid/pixels/TextScreen.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace deid::pixels {

namespace {

// Limits of what printed text looks like (docs/pixels.md, "The screen").
constexpr double kMaxHeightSpread = 0.5;
constexpr double kMaxBaselineSpread = 0.35;  // descenders (g, p, y) move a few bottoms
constexpr double kMaxStrokeSpread = 0.6;
constexpr double kMinHeightPerStroke = 2.2;  // bold 8 px glyphs still reach ~2.5
constexpr double kMaxHeightPerStroke = 25.0;
constexpr int kMaxJoinedHeight = 30;  // px: taller single components are not joined letters

}  // namespace

ScreenMeasures TextScreen::measure(const cv::Mat& strokes, const cv::Rect& box_in) {
    ScreenMeasures m;
    const cv::Rect box = box_in & cv::Rect(0, 0, strokes.cols, strokes.rows);
    if (box.empty()) return m;
    cv::Mat roi;
    cv::copyMakeBorder(strokes(box), roi, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(roi, labels, stats, centroids, 8, CV_32S);
    int tallest = 0;
    for (int i = 1; i < n; ++i)
        if (stats.at<int>(i, cv::CC_STAT_AREA) >= 3) tallest = std::max(tallest, stats.at<int>(i, cv::CC_STAT_HEIGHT));
    if (tallest < 3) return m;
    int lo = tallest, hi = 0;
    std::vector<int> bottoms;
    for (int i = 1; i < n; ++i) {
        const int h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
        if (stats.at<int>(i, cv::CC_STAT_AREA) < 3 || 2 * h < tallest) continue;
        ++m.glyphs;
        lo = std::min(lo, h), hi = std::max(hi, h);
        bottoms.push_back(stats.at<int>(i, cv::CC_STAT_TOP) + h);
    }
    // A word whose letters touch is one component: count its glyphs by its width. Only small
    // text runs its letters together; a taller single component (an outline, a ruler, a
    // vessel loop) stays one glyph.
    if (m.glyphs == 1 && tallest <= kMaxJoinedHeight) {
        for (int i = 1; i < n; ++i)
            if (stats.at<int>(i, cv::CC_STAT_HEIGHT) == tallest && stats.at<int>(i, cv::CC_STAT_AREA) >= 3)
                m.glyphs = std::max(1, static_cast<int>(stats.at<int>(i, cv::CC_STAT_WIDTH) / (0.7 * tallest)));
    }
    m.height_spread = static_cast<double>(hi - lo) / tallest;
    std::sort(bottoms.begin(), bottoms.end());
    // Spread of the middle half of the bottoms: a few descenders do not count.
    if (bottoms.size() >= 2) {
        const std::size_t q1 = bottoms.size() / 4, q3 = (3 * bottoms.size()) / 4;
        m.baseline_spread = static_cast<double>(bottoms[std::min(q3, bottoms.size() - 1)] - bottoms[q1]) / tallest;
    }
    // Stroke width from the ridge of the distance transform (pixels not smaller than any neighbour).
    cv::Mat dist;
    cv::distanceTransform(roi, dist, cv::DIST_L2, 3);
    double sum = 0, sum2 = 0;
    int count = 0;
    for (int y = 1; y < dist.rows - 1; ++y) {
        const float* r0 = dist.ptr<float>(y - 1);
        const float* r1 = dist.ptr<float>(y);
        const float* r2 = dist.ptr<float>(y + 1);
        for (int x = 1; x < dist.cols - 1; ++x) {
            const float d = r1[x];
            if (d <= 0) continue;
            if (d < r1[x - 1] || d < r1[x + 1] || d < r0[x] || d < r2[x]) continue;
            sum += d, sum2 += static_cast<double>(d) * d, ++count;
        }
    }
    if (count == 0) return m;
    const double mean = sum / count;
    m.stroke_width = 2.0 * mean;
    m.stroke_spread = std::sqrt(std::max(0.0, sum2 / count - mean * mean)) / mean;
    m.height_per_stroke = tallest / m.stroke_width;
    return m;
}

bool TextScreen::looks_like_text(const ScreenMeasures& m) {
    return m.glyphs >= 2 && m.height_spread <= kMaxHeightSpread && m.baseline_spread <= kMaxBaselineSpread &&
           m.stroke_spread <= kMaxStrokeSpread && m.height_per_stroke >= kMinHeightPerStroke &&
           m.height_per_stroke <= kMaxHeightPerStroke;
}

}  // namespace deid::pixels
