#include "deid/pixels/TextScreen.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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

// The first pass (text_areas).
constexpr int kPeakContrast = 28;    // grey levels (of 255 over the frame's range) above / below both neighbours
// Burned-in text is drawn light (near the top of the frame's range) or dark (near the bottom):
// a bright stroke must reach this level, a dark one stay below that (of 255 over the range).
constexpr int kBrightFloor = 128;
constexpr int kDarkCeiling = 127;
constexpr int kCell = 16;            // px: cells of the sampled rows
constexpr int kMinStrokes = 3;       // stroke crossings in two neighbouring cells (32 px): glyph spacing
constexpr int kMinRows = 3;          // ... in this many sampled rows in a row (6 px of text height)
constexpr int kAreaPad = 40;         // px around a flagged place: the detector's ring and line extension

// Thin peaks along the rows of `rows` (8-bit): pixels brighter or darker by kPeakContrast than
// both pixels `reach` to their left and right (strokes up to 2 x reach - 1 px wide), 0/1 per
// pixel, as a run start only (the first pixel of each run of peaks), in columns [reach, cols - reach).
cv::Mat stroke_starts(const cv::Mat& rows, int reach) {
    const int w = rows.cols - 2 * reach;
    const cv::Mat c = rows.colRange(reach, reach + w), l = rows.colRange(0, w), r = rows.colRange(2 * reach, 2 * reach + w);
    cv::Mat a, b, bright, dark;
    cv::subtract(c, l, a), cv::subtract(c, r, b), cv::min(a, b, bright);  // saturating: brighter than both
    cv::subtract(c, cv::Scalar(kBrightFloor - kPeakContrast), a), cv::min(a, bright, bright);  // and light
    cv::subtract(l, c, a), cv::subtract(r, c, b), cv::min(a, b, dark);    // darker than both
    cv::subtract(cv::Scalar(kDarkCeiling + kPeakContrast), c, a), cv::min(a, dark, dark);     // and dark
    cv::max(bright, dark, bright);
    cv::Mat peaks;
    cv::threshold(bright, peaks, kPeakContrast - 1, 1, cv::THRESH_BINARY);
    cv::Mat starts = cv::Mat::zeros(peaks.size(), CV_8UC1);
    cv::subtract(peaks.colRange(1, w), peaks.colRange(0, w - 1), starts.colRange(1, w));  // 1 where a run begins
    return starts;
}

// Sum of 16 bytes (each 0 or 1).
inline int cell_sum(const std::uint8_t* p) {
    std::uint64_t a, b;
    std::memcpy(&a, p, 8), std::memcpy(&b, p + 8, 8);
    return static_cast<int>(((a + b) * 0x0101010101010101ull) >> 56);
}

// Flags the places of `rows` (sampled every second row of the frame) where strokes at `reach`
// come at glyph spacing in kMinRows sampled rows in a row; rectangles in frame coordinates.
void flag_cells(const cv::Mat& rows, int reach, std::vector<cv::Rect>& out) {
    const cv::Mat starts = stroke_starts(rows, reach);
    const int cells = starts.cols / kCell;
    std::vector<int> run(static_cast<std::size_t>(cells), 0), count(static_cast<std::size_t>(cells));
    std::vector<std::size_t> open(static_cast<std::size_t>(cells), 0);  // index in `out` of the cell's current line
    for (int y = 0; y < starts.rows; ++y) {
        const std::uint8_t* p = starts.ptr<std::uint8_t>(y);
        for (int k = 0; k < cells; ++k) count[static_cast<std::size_t>(k)] = cell_sum(p + k * kCell);
        for (int k = 0; k + 1 < cells; ++k) {
            const auto i = static_cast<std::size_t>(k);
            if (count[i] + count[i + 1] < kMinStrokes) {
                run[i] = 0;
                continue;
            }
            const cv::Rect here(reach + k * kCell, 2 * y, 2 * kCell, 2);
            if (++run[i] == kMinRows) {  // the place where a line of strokes starts; padded by the caller
                open[i] = out.size();
                out.emplace_back(here.x, here.y - 2 * (kMinRows - 1), here.width, 2 * kMinRows);
            } else if (run[i] > kMinRows) {
                out[open[i]] |= here;
            }
        }
    }
}

}  // namespace

std::vector<cv::Rect> TextScreen::text_areas(const cv::Mat& grey) {
    CV_Assert(grey.channels() == 1);
    std::vector<cv::Rect> flagged;
    if (grey.cols < 2 * kCell + 12 || grey.rows < 4 * kMinRows) return flagged;
    // Every second row, scaled to 8 bits over its own range.
    const cv::Mat sampled(grey.rows / 2, grey.cols, grey.type(), const_cast<std::uint8_t*>(grey.ptr<std::uint8_t>(0)),
                          grey.step[0] * 2);
    double lo = 0, hi = 0;
    cv::minMaxLoc(sampled, &lo, &hi);
    if (hi <= lo) return flagged;
    cv::Mat rows;
    const double scale = 255.0 / (hi - lo);
    sampled.convertTo(rows, CV_8U, scale, -lo * scale);
    flag_cells(rows, 3, flagged);  // strokes up to 5 px wide
    flag_cells(rows, 6, flagged);  // up to 11 px (large and bold fonts)
    const cv::Mat& grey8 = grey;
    const cv::Rect frame(0, 0, grey8.cols, grey8.rows);
    std::vector<cv::Rect> areas;
    for (const cv::Rect& f : flagged) {
        // A line continues along its direction past the strokes that flagged it (letters over
        // darker or brighter ground): wider along the line.
        const int px = kAreaPad + std::max(56, std::min(2 * f.height, 120));
        const int py = kAreaPad + (f.height > f.width ? std::min(2 * f.width, 120) : 0);
        cv::Rect a = cv::Rect(f.x - px, f.y - py, f.width + 2 * px, f.height + 2 * py) & frame;
        for (bool merged = true; merged;) {  // overlapping areas become one
            merged = false;
            for (std::size_t k = 0; k < areas.size(); ++k)
                if ((areas[k] & a).area() > 0) {
                    a |= areas[k];
                    areas.erase(areas.begin() + static_cast<long>(k));
                    merged = true;
                    break;
                }
        }
        areas.push_back(a);
    }
    return areas;
}

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
