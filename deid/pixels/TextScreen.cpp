#include "deid/pixels/TextScreen.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include <opencv2/core/hal/intrin.hpp>
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
constexpr int kMaxReach = 6;         // px: the wider of the two reaches (3 and 6)
constexpr int kCell = 16;            // px: cells of the sampled rows
constexpr int kMinStrokes = 3;       // stroke crossings in two neighbouring cells (32 px): glyph spacing
constexpr int kRowStep = 4;          // every fourth row is read
constexpr int kMinRows = 2;          // ... in this many sampled rows in a row (8 px of text height)
constexpr int kAreaPad = 40;         // px around a flagged place: the detector's ring and line extension
// A stroke stands out of the frame's own texture: its contrast is at least kNoiseUnits x the
// 85th percentile of the absolute differences of horizontally adjacent pixels (read in every
// kNoiseRowStep-th sampled row). Smooth anatomy and the flat ground of text are most of a frame
// (the fixed contrast above rules); textured anatomy (small MR, EPI, mosaics) and pixel noise
// (the generated CT of deid-generate: 12-bit uniform noise) raise it, so their texture is not a
// thin peak while text drawn well above it still is. (The median, used before, left 47 of 109
// corpus frames flagged; the 85th percentile 31, with the same planted strings covered.)
constexpr int kNoiseQuantile = 85;  // percent
constexpr int kNoiseUnits = 3;
constexpr int kNoiseRowStep = 4;

// Levels of the 8-bit rows: kPeakContrast, kBrightFloor and kDarkCeiling scaled to their range.
struct Levels {
    int contrast = kPeakContrast, floor = kBrightFloor, ceiling = kDarkCeiling;
};

// The thin-peak test of one pass, its levels set up once (vector constants with SIMD).
struct PeakTest {
    explicit PeakTest(const Levels& lv)
        : lv(lv)
#if CV_SIMD128
          ,
          floor(cv::v_setall_u8(static_cast<std::uint8_t>(lv.floor))),
          ceiling(cv::v_setall_u8(static_cast<std::uint8_t>(lv.ceiling))),
          contrast(cv::v_setall_u8(static_cast<std::uint8_t>(lv.contrast)))
#endif
    {
    }
    Levels lv;
#if CV_SIMD128
    cv::v_uint8x16 floor, ceiling, contrast;
#endif

    // The thin peaks of the 16 pixels c[0..15] of an 8-bit row (c[-6] .. c[21] readable), as a
    // 16-bit mask (bit i: pixel i). A thin peak is a pixel brighter (darker) by `contrast` than
    // both pixels 3 px, or both 6 px, to its left and right (strokes up to 5 or 11 px wide) that is
    // itself light (dark). One fused pass with OpenCV's universal intrinsics: this runs on every
    // screened frame.
    unsigned mask(const std::uint8_t* c) const {
#if CV_SIMD128
        const cv::v_uint8x16 v = cv::v_load(c), l3 = cv::v_load(c - 3), r3 = cv::v_load(c + 3), l6 = cv::v_load(c - 6),
                             r6 = cv::v_load(c + 6);
        // Saturating differences (operator- of 8-bit vectors): brighter than both neighbours at 3
        // or at 6 px (v - max(l, r)), darker than both (min(l, r) - v). a >= b is (b - a) == 0:
        // two native instructions where SSE2 has no unsigned compare.
        const cv::v_uint8x16 zero = cv::v_setzero_u8();
        const cv::v_uint8x16 bright = cv::v_max(v - cv::v_max(l3, r3), v - cv::v_max(l6, r6)) & ((floor - v) == zero);
        const cv::v_uint8x16 dark = cv::v_max(cv::v_min(l3, r3) - v, cv::v_min(l6, r6) - v) & ((v - ceiling) == zero);
        return static_cast<unsigned>(cv::v_signmask((contrast - cv::v_max(bright, dark)) == zero));
#else
        auto sub = [](int a, int b) { return a > b ? a - b : 0; };
        unsigned m = 0;
        for (int x = 0; x < 16; ++x) {
            const int v = c[x];
            const int bright = v >= lv.floor ? std::max(std::min(sub(v, c[x - 3]), sub(v, c[x + 3])),
                                                        std::min(sub(v, c[x - 6]), sub(v, c[x + 6])))
                                             : 0;
            const int dark = v <= lv.ceiling ? std::max(std::min(sub(c[x - 3], v), sub(c[x + 3], v)),
                                                        std::min(sub(c[x - 6], v), sub(c[x + 6], v)))
                                             : 0;
            if (std::max(bright, dark) >= lv.contrast) m |= 1u << x;
        }
        return m;
#endif
    }
};

static_assert(kCell == 16 && kMinStrokes == 3, "cells are 16-bit masks; a pair holds 3 starts when two bits are cleared and one is left");
// Two neighbouring cells' start masks hold kMinStrokes (3) starts or more.
inline bool enough_starts(std::uint16_t a, std::uint16_t b) {
    std::uint32_t x = a | (static_cast<std::uint32_t>(b) << 16);
    x &= x - 1;  // clears the lowest set bit
    x &= x - 1;
    return x != 0;
}

// One sampled row (8-bit): per cell of kCell pixels from column kMaxReach on, the pixels where a
// run of thin peaks starts (a peak whose left neighbour is not one; never the first pixel of the
// first cell), as a mask. Returns whether two neighbouring cells hold kMinStrokes starts or more.
bool row_starts(const std::uint8_t* row, int cells, const PeakTest& test, std::uint16_t* starts) {
    unsigned before = 1;  // the first pixel does not start a run
    bool hit = false;
    std::uint16_t last = 0;
    for (int k = 0; k < cells; ++k) {
        const unsigned m = test.mask(row + kMaxReach + k * kCell);
        const auto s = static_cast<std::uint16_t>(m & ~((m << 1) | before));
        before = m >> (kCell - 1);
        starts[k] = s;
        hit = hit || (k > 0 && enough_starts(last, s));
        last = s;
    }
    return hit;
}

// One row of the frame (8U, 16U or 16S) to 8 bits: (value - lo) >> shift, saturated.
void row_to_8bit(const cv::Mat& rows, int y, int lo, int shift, std::uint8_t* out) {
    const int n = rows.cols;
    int x = 0;
    if (rows.depth() == CV_8U) {
        const std::uint8_t* p = rows.ptr<std::uint8_t>(y);
#if CV_SIMD128
        const cv::v_uint8x16 base = cv::v_setall_u8(static_cast<std::uint8_t>(lo));
        for (; x + 16 <= n; x += 16) cv::v_store(out + x, cv::v_load(p + x) - base);
#endif
        for (; x < n; ++x) out[x] = static_cast<std::uint8_t>(std::max(0, p[x] - lo));
        return;
    }
    // 16S: offset by 32768 into unsigned order (lo is given offset too).
    const std::uint16_t flip = rows.depth() == CV_16S ? 0x8000 : 0;
    const std::uint16_t* p = rows.ptr<std::uint16_t>(y);
#if CV_SIMD128
    const cv::v_uint16x8 base = cv::v_setall_u16(static_cast<std::uint16_t>(lo)), f = cv::v_setall_u16(flip);
    for (; x + 16 <= n; x += 16) {
        const cv::v_uint16x8 a = ((cv::v_load(p + x) ^ f) - base) >> shift, b = ((cv::v_load(p + x + 8) ^ f) - base) >> shift;
        cv::v_store(out + x, cv::v_pack(a, b));
    }
#endif
    for (; x < n; ++x) out[x] = static_cast<std::uint8_t>(std::min(255, std::max(0, (p[x] ^ flip) - lo) >> shift));
}

// The kNoiseQuantile-th percentile of the absolute differences of horizontally adjacent pixels of
// the rows of `rows8` (every kNoiseRowStep-th sampled row, in the 8-bit levels of the first pass:
// `count` rows of `width` bytes), when it is above `floor`; otherwise `floor` (or less). Only a
// textured frame needs the percentile itself: a vectorised count of differences above `floor`
// first, the histogram only when enough are.
int noise_level(const std::uint8_t* rows8, int count, int width, int floor) {
    long n = 0, above = 0;
    const int w = width - 1;
    for (int r = 0; r < count; ++r) {
        const std::uint8_t* row8 = rows8 + static_cast<std::size_t>(r) * width;
        int x = 0;
#if CV_SIMD128
        const cv::v_uint8x16 f = cv::v_setall_u8(static_cast<std::uint8_t>(std::min(255, floor))), one = cv::v_setall_u8(1);
        for (; x + 16 <= w;) {
            // Up to 255 blocks of 16 summed in 8 bits, then widened.
            cv::v_uint8x16 acc = cv::v_setzero_u8();
            for (int k = 0; k < 255 && x + 16 <= w; ++k, x += 16)
                acc += (cv::v_absdiff(cv::v_load(row8 + x + 1), cv::v_load(row8 + x)) > f) & one;
            above += static_cast<long>(cv::v_reduce_sum(acc));
        }
#endif
        for (; x < w; ++x) above += std::abs(row8[x + 1] - row8[x]) > floor;
        n += w;
    }
    if (above * 100 < n * (100 - kNoiseQuantile)) return floor;
    std::array<long, 256> hist{};
    for (int r = 0; r < count; ++r) {
        const std::uint8_t* row8 = rows8 + static_cast<std::size_t>(r) * width;
        for (int x = 0; x < w; ++x) ++hist[static_cast<std::size_t>(std::abs(row8[x + 1] - row8[x]))];
    }
    long seen = 0;
    for (int v = 0; v < 256; ++v)
        if ((seen += hist[static_cast<std::size_t>(v)]) * 100 >= n * kNoiseQuantile) return v;
    return 255;
}

// Flags the places of `rows` (every kRowStep-th row of the frame, 8U, 16U or 16S, values lo..hi)
// where strokes come at glyph spacing in kMinRows sampled rows in a row; rectangles in frame
// coordinates.
void flag_cells(const cv::Mat& rows, double lo_value, double hi_value, std::vector<cv::Rect>& out) {
    const int reach = kMaxReach;
    const int w = rows.cols - 2 * kMaxReach;
    const int cells = w / kCell;
    // To 8 bits by a shift (the range then spans 128..255 levels; the levels scale with it).
    const int lo = static_cast<int>(lo_value) + (rows.depth() == CV_16S ? 32768 : 0);
    const int range = static_cast<int>(hi_value - lo_value);
    int shift = 0;
    while ((range >> shift) > 255) ++shift;
    const double unit = (range >> shift) / 255.0;
    Levels lv;
    lv.contrast = std::max(1, static_cast<int>(std::lround(kPeakContrast * unit)));
    lv.floor = static_cast<int>(std::lround(kBrightFloor * unit));
    lv.ceiling = static_cast<int>(std::lround(kDarkCeiling * unit));
    // The rows the texture level is read in (every kNoiseRowStep-th sampled row) are brought to 8
    // bits once: the stroke pass below reads them again.
    static_assert(kNoiseRowStep % 2 == 0, "the texture rows are even rows, all of which the stroke pass reads");
    const int width = rows.cols;
    const int noise_rows = (rows.rows + kNoiseRowStep - 1) / kNoiseRowStep;
    // (Scratch without zero-filling: every byte is written before it is read.)
    const std::unique_ptr<std::uint8_t[]> rows8(new std::uint8_t[static_cast<std::size_t>(noise_rows + 1) * width]);
    std::uint8_t* const other = rows8.get() + static_cast<std::size_t>(noise_rows) * width;  // any other row
    for (int r = 0; r < noise_rows; ++r)
        row_to_8bit(rows, r * kNoiseRowStep, lo, shift, rows8.get() + static_cast<std::size_t>(r) * width);
    lv.contrast = std::max(lv.contrast, kNoiseUnits * noise_level(rows8.get(), noise_rows, width, lv.contrast / kNoiseUnits));
    if (lv.contrast > 255) return;  // nothing stands out of this much noise
    // Stroke starts per cell of each sampled row. A place needs kMinRows (2) sampled rows in a row,
    // one of which is even: the even rows are read first, an odd row only when a neighbour has a
    // cell pair with enough strokes (on text-free frames about half the rows are read; the
    // places found are the same).
    static_assert(kMinRows == 2, "the odd rows are read next to hits of the even rows only");
    const auto ncells = static_cast<std::size_t>(cells);
    // Start masks of the rows read (a row's are read only when it is a hit, so only once written).
    const std::unique_ptr<std::uint16_t[]> starts(new std::uint16_t[static_cast<std::size_t>(rows.rows) * ncells]);
    std::vector<char> hit(static_cast<std::size_t>(rows.rows), 0);
    bool any = false;
    const PeakTest test(lv);
    auto read_row = [&](int y) {
        const std::uint8_t* row8 = rows8.get() + static_cast<std::size_t>(y / kNoiseRowStep) * width;
        if (y % kNoiseRowStep != 0) row_to_8bit(rows, y, lo, shift, other), row8 = other;
        const bool h = row_starts(row8, cells, test, starts.get() + static_cast<std::size_t>(y) * ncells);
        any = any || h;
        return static_cast<char>(h);
    };
    for (int y = 0; y < rows.rows; y += 2) hit[static_cast<std::size_t>(y)] = read_row(y);
    if (!any) return;  // no sampled row has a cell pair with enough strokes: nothing to flag
    for (int y = 1; y < rows.rows; y += 2)
        if (hit[static_cast<std::size_t>(y - 1)] || (y + 1 < rows.rows && hit[static_cast<std::size_t>(y + 1)]))
            hit[static_cast<std::size_t>(y)] = read_row(y);
    std::vector<int> run(ncells, 0);
    std::vector<std::size_t> open(ncells, 0);  // index in `out` of the cell's current line
    bool running = false;                      // some run[i] > 0
    for (int y = 0; y < rows.rows; ++y) {
        if (!hit[static_cast<std::size_t>(y)]) {
            if (running) std::fill(run.begin(), run.end(), 0), running = false;
            continue;
        }
        running = true;
        const std::uint16_t* cell_starts = starts.get() + static_cast<std::size_t>(y) * ncells;
        for (int k = 0; k + 1 < cells; ++k) {
            const auto i = static_cast<std::size_t>(k);
            if (!enough_starts(cell_starts[i], cell_starts[i + 1])) {
                run[i] = 0;
                continue;
            }
            const cv::Rect here(reach + k * kCell, kRowStep * y, 2 * kCell, kRowStep);
            if (++run[i] == kMinRows) {  // the place where a line of strokes starts; padded by the caller
                open[i] = out.size();
                out.emplace_back(here.x, here.y - kRowStep * (kMinRows - 1), here.width, kRowStep * kMinRows);
            } else if (run[i] > kMinRows) {
                out[open[i]] |= here;
            }
        }
    }
}

}  // namespace

cv::Mat TextScreen::sampled_rows(const cv::Mat& grey, int every) {
    return cv::Mat(grey.rows / every, grey.cols, grey.type(), const_cast<std::uint8_t*>(grey.ptr<std::uint8_t>(0)),
                   grey.step[0] * every);
}

namespace {

// Minimum and maximum of every `every`-th row of a one-channel frame of T (uchar, ushort, short),
// the rows of sampled_rows(m, every).
// cv::minMaxIdx gives the same values but also tracks their positions, row by row: about
// 8 times the instructions on a 256x256 frame (bench/pixels_callgrind.sh).
template <typename T>
void min_max_rows(const cv::Mat& m, int every, double& lo, double& hi) {
    const T* first = m.ptr<T>(0);
    T mn = *first, mx = mn;
#if CV_SIMD128
    constexpr int lanes = static_cast<int>(16 / sizeof(T));
    // Started from the first value in every lane (a row narrower than a vector, as in a 2x2 or a
    // hostile 1x1 frame, must not be loaded whole: it may end where its buffer ends).
    T first_lanes[lanes];
    std::fill_n(first_lanes, lanes, mn);
    auto vmin = cv::v_load(first_lanes), vmax = vmin;
    const bool simd = m.cols >= lanes;
#else
    constexpr int lanes = 1;
    const bool simd = false;
#endif
    for (int y = 0; y < m.rows / every * every; y += every) {
        const T* p = m.ptr<T>(y);
        int x = 0;
#if CV_SIMD128
        if (simd)
            for (; x + lanes <= m.cols; x += lanes) {
                const auto v = cv::v_load(p + x);
                vmin = cv::v_min(vmin, v), vmax = cv::v_max(vmax, v);
            }
#endif
        for (; x < m.cols; ++x) mn = std::min(mn, p[x]), mx = std::max(mx, p[x]);
    }
#if CV_SIMD128
    if (simd) mn = std::min<T>(mn, cv::v_reduce_min(vmin)), mx = std::max<T>(mx, cv::v_reduce_max(vmax));
#endif
    (void)lanes;
    lo = mn, hi = mx;
}

#if CV_SIMD128
// The same for 16U, with native instructions: SSE2 has signed 16-bit min/max only, so the values
// are taken in signed order (top bit flipped) and flipped back at the end.
template <>
void min_max_rows<std::uint16_t>(const cv::Mat& m, int every, double& lo, double& hi) {
    const auto* first = m.ptr<std::uint16_t>(0);
    std::uint16_t mn = *first, mx = mn;
    constexpr int lanes = 8;
    const cv::v_uint16x8 flip = cv::v_setall_u16(0x8000);
    // Started from the first value in every lane (not loaded: the row may be narrower than a vector).
    cv::v_int16x8 vmin = cv::v_reinterpret_as_s16(cv::v_setall_u16(mn) ^ flip), vmax = vmin;
    const bool simd = m.cols >= lanes;
    for (int y = 0; y < m.rows / every * every; y += every) {
        const auto* p = m.ptr<std::uint16_t>(y);
        int x = 0;
        if (simd)
            for (; x + lanes <= m.cols; x += lanes) {
                const cv::v_int16x8 v = cv::v_reinterpret_as_s16(cv::v_load(p + x) ^ flip);
                vmin = cv::v_min(vmin, v), vmax = cv::v_max(vmax, v);
            }
        for (; x < m.cols; ++x) mn = std::min(mn, p[x]), mx = std::max(mx, p[x]);
    }
    if (simd) {
        mn = std::min<std::uint16_t>(mn, static_cast<std::uint16_t>(cv::v_reduce_min(vmin) ^ 0x8000));
        mx = std::max<std::uint16_t>(mx, static_cast<std::uint16_t>(cv::v_reduce_max(vmax) ^ 0x8000));
    }
    lo = mn, hi = mx;
}
#endif

}  // namespace

void TextScreen::range_of(const cv::Mat& grey, double& lo, double& hi) {
    lo = hi = 0;
    if (grey.empty()) return;
    const int every = grey.rows >= 8 ? 8 : 1;
    switch (grey.channels() == 1 ? grey.depth() : -1) {
        case CV_8U: min_max_rows<std::uint8_t>(grey, every, lo, hi); break;
        case CV_16U: min_max_rows<std::uint16_t>(grey, every, lo, hi); break;
        case CV_16S: min_max_rows<std::int16_t>(grey, every, lo, hi); break;
        default: cv::minMaxIdx(every == 1 ? grey : sampled_rows(grey, every), &lo, &hi);
    }
}

std::vector<cv::Rect> TextScreen::text_areas(const cv::Mat& grey) {
    double lo = 0, hi = 0;
    range_of(grey, lo, hi);
    return text_areas(grey, lo, hi);
}

std::vector<cv::Rect> TextScreen::text_areas(const cv::Mat& grey, double lo, double hi) {
    CV_Assert(grey.channels() == 1);
    std::vector<cv::Rect> flagged;
    if (grey.cols < 2 * kCell + 2 * kMaxReach + 2 || grey.rows < 2 * kRowStep * kMinRows) return flagged;
    // Every second row, brought to 8 bits over the frame's range (`lo`..`hi`, estimated; values
    // outside it saturate).
    const cv::Mat sampled = sampled_rows(grey, kRowStep);
    if (hi <= lo) return flagged;
    CV_Assert(grey.depth() == CV_8U || grey.depth() == CV_16U || grey.depth() == CV_16S);
    flag_cells(sampled, lo, hi, flagged);
    const cv::Mat& grey8 = grey;
    const cv::Rect frame(0, 0, grey8.cols, grey8.rows);
    std::vector<cv::Rect> areas;
    for (const cv::Rect& f : flagged) {
        // A line continues past the strokes that flagged it (letters over brighter ground, wide
        // glyphs): an area is the whole band of rows, so no word is cut at its side; a tall
        // flagged place (text rotated 90/270) is padded up and down too.
        const int py = kAreaPad + (f.height > f.width ? std::min(2 * f.width, 120) : 0);
        cv::Rect a = cv::Rect(0, f.y - py, frame.width, f.height + 2 * py) & frame;
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
