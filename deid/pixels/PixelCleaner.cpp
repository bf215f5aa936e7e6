#include "deid/pixels/PixelCleaner.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <set>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/DisplayImage.h"
#include "deid/pixels/FrameCodec.h"
#include "deid/pixels/OcrEngine.h"
#include "deid/pixels/OverlayPlanes.h"
#include "deid/pixels/RegionFiller.h"
#include "deid/pixels/ScopeRules.h"
#include "deid/pixels/TextDetector.h"
#include "deid/pixels/TextScreen.h"

namespace deid::pixels {

namespace {

// Decision thresholds (docs/pixels.md, "Detection").
// Candidates standing out less than this from their surroundings are texture, not text.
constexpr double kMinContrastRatio = 3.0;
// A candidate standing out this clearly from an even background is text whatever OCR says.
constexpr double kFlatContrastRatio = 6.0;
// ... on a background this even (robust noise of the top-hat around it; speckle is rougher) ...
constexpr double kFlatMaxNoise = 8.0;
// ... and is at least this wide for its height (two glyphs or more).
constexpr double kCertainMinAspect = 1.2;
// In colour flow, OCR must read a word of this many letters/digits at this confidence.
constexpr float kColourFlowConfidence = 50.0f;
constexpr int kColourFlowAlnum = 3;
// Strokes of several hues (colour Doppler, colour maps) are not text unless OCR reads them.
constexpr double kMaxHueSpread = 0.06;
// OCR evidence that a doubtful candidate is text.
constexpr float kDetectConfidence = 55.0f;
constexpr int kDetectAlnum = 2;
// ... and when its strokes do not look like a line of glyphs (TextScreen: a V-shaped vessel OCR
// reads as "VA"), a word of at least this many letters/digits.
constexpr int kWordAlnum = 3;
// Words read in a crop binarised against the strokes' neighbourhood (ocr_input_local) count at
// this confidence or more.
constexpr float kLocalConfidence = 75.0f;
// Verification: a word this long and this confident left in the frame is a failure.
constexpr float kVerifyConfidence = 70.0f;
constexpr int kVerifyAlnum = 3;
// Screened-only images (not text-prone, nothing forcing): OCR must read a word of this many
// letters/digits at this confidence; nothing is certain without OCR.
constexpr float kScreenConfidence = 60.0f;
constexpr int kScreenAlnum = 3;
// A line in the transposed picture must be this much longer than high to count as vertical text.
constexpr double kVerticalMinAspect = 2.0;
constexpr int kVerticalJoin = 15;
// Frames larger than this are searched at reduced size (boxes mapped back to full size).
constexpr int kDetectMaxDimension = 1400;
constexpr int kDetectTargetDimension = 1024;

std::string normalise_word(const std::string& w) {
    std::string out;
    for (unsigned char c : w)
        if (std::isalnum(c)) out.push_back(static_cast<char>(std::toupper(c)));
    return out;
}

// Crop of the display image around `box`, enlarged and binarised into dark text on white.
cv::Mat ocr_input(const cv::Mat& grey, const cv::Rect& box, int margin, bool vertical = false) {
    const cv::Rect frame(0, 0, grey.cols, grey.rows);
    const cv::Rect r = cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) & frame;
    if (r.empty()) return {};
    cv::Mat crop = grey(r), big;
    const double scale = std::clamp(36.0 / std::max(1, vertical ? box.width : box.height), 1.0, 4.0);
    cv::resize(crop, big, {}, scale, scale, cv::INTER_CUBIC);
    cv::Mat bin;
    cv::threshold(big, bin, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    cv::copyMakeBorder(bin, bin, 12, 12, 12, 12, cv::BORDER_CONSTANT, cv::Scalar(255));
    return bin;
}

// Crop of `picture` (text bright in it: the display image or its inverse) around `box`, enlarged
// like ocr_input(), its strokes taken against their own neighbourhood (white top-hat, 15 px at
// ~36 px text height) and Otsu-binarised into dark text on white: text over ground whose
// brightness changes under it (a name across bone shafts and soft tissue, over lung and
// mediastinum), where one threshold over the crop splits the ground instead of the text.
cv::Mat ocr_input_local(const cv::Mat& picture, const cv::Rect& box, int margin, bool vertical = false) {
    const cv::Rect frame(0, 0, picture.cols, picture.rows);
    const cv::Rect r = cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) & frame;
    if (r.empty()) return {};
    cv::Mat big;
    const double scale = std::clamp(36.0 / std::max(1, vertical ? box.width : box.height), 1.0, 4.0);
    cv::resize(picture(r), big, {}, scale, scale, cv::INTER_CUBIC);
    cv::Mat hat, bin;
    cv::morphologyEx(big, hat, cv::MORPH_TOPHAT, cv::getStructuringElement(cv::MORPH_RECT, {15, 15}));
    cv::threshold(hat, bin, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
    cv::copyMakeBorder(bin, bin, 12, 12, 12, 12, cv::BORDER_CONSTANT, cv::Scalar(255));
    return bin;
}

// Crop for verification: only pixels standing clearly apart from the crop's background in one
// of `pictures` (display image; chroma for colour frames) become ink (|smoothed - median| >
// max(4 x robust noise, 25)), so background noise and the flat fill of a cleaned box stay blank
// instead of being binarised into shapes OCR reads as words.
cv::Mat verify_input(const std::vector<cv::Mat>& pictures, const cv::Rect& box, int margin, bool vertical = false) {
    const cv::Rect frame(0, 0, pictures[0].cols, pictures[0].rows);
    const cv::Rect r = cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) & frame;
    if (r.empty()) return {};
    cv::Mat ink = cv::Mat::zeros(r.size(), CV_8UC1);
    for (const cv::Mat& picture : pictures) {
        cv::Mat smooth;
        cv::GaussianBlur(picture(r), smooth, {3, 3}, 0);
        double median = 0, noise = 0;
        ring_statistics(smooth, cv::Rect(-1, -1, 0, 0), std::max(smooth.rows, smooth.cols), median, noise);
        cv::Mat dev;
        cv::absdiff(smooth, cv::Scalar(median), dev);
        ink |= dev > std::max(4.0 * noise, 25.0);
    }
    // Ink that runs out of the crop is anatomy crossing the neighbourhood (bone shafts, organ
    // edges cut off by a filled box), not a remnant of text inside it: blank.
    {
        cv::Mat labels, stats, centroids;
        const int n = cv::connectedComponentsWithStats(ink, labels, stats, centroids, 8, CV_32S);
        std::vector<std::uint8_t> keep(static_cast<std::size_t>(n), 1);
        for (int i = 1; i < n; ++i) {
            const int x = stats.at<int>(i, cv::CC_STAT_LEFT), y = stats.at<int>(i, cv::CC_STAT_TOP);
            const int w = stats.at<int>(i, cv::CC_STAT_WIDTH), h = stats.at<int>(i, cv::CC_STAT_HEIGHT);
            // Sides where the crop meets the frame's edge do not count (text can sit there).
            keep[static_cast<std::size_t>(i)] = (x > 0 || r.x == 0) && (y > 0 || r.y == 0) &&
                                                (x + w < ink.cols || r.x + r.width == frame.width) &&
                                                (y + h < ink.rows || r.y + r.height == frame.height);
        }
        for (int y = 0; y < ink.rows; ++y) {
            std::uint8_t* row = ink.ptr<std::uint8_t>(y);
            const int* l = labels.ptr<int>(y);
            for (int x = 0; x < ink.cols; ++x)
                if (row[x] && !keep[static_cast<std::size_t>(l[x])]) row[x] = 0;
        }
    }
    const double scale = std::clamp(36.0 / std::max(1, vertical ? box.width : box.height), 1.0, 4.0);
    cv::Mat big;
    cv::resize(ink, big, {}, scale, scale, cv::INTER_LINEAR);
    cv::Mat bin = big < 128;  // dark ink on white
    cv::copyMakeBorder(bin, bin, 12, 12, 12, 12, cv::BORDER_CONSTANT, cv::Scalar(255));
    return bin;
}

// Colour frames: false when `box` may lie in colour flow / power Doppler: 10 % or more of the ring
// around it coloured (chroma above 40) and the ring crossing edges of colour (3 % or more of its
// pixels where the smoothed chroma changes by more than 40 within 2 px: the border of a flow
// blob). A plain or gradient colour background (screenshots, colour bars' surroundings, a
// fundus) has no such edges: text on it is judged like text on grey. A candidate in colour flow
// (a blob, a hole between blobs, a colour bar's label) needs OCR to count as text.
bool grey_surroundings(const cv::Mat& chroma, const cv::Rect& box) {
    const cv::Rect frame(0, 0, chroma.cols, chroma.rows);
    const int pad = std::max(3, box.height / 2);
    const cv::Rect outer = cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & frame;
    const cv::Rect inner = box & frame;
    const int ring = outer.area() - inner.area();
    if (ring <= 0) return true;
    const int coloured = cv::countNonZero(chroma(outer) > 40) - cv::countNonZero(chroma(inner) > 40);
    if (coloured * 10 < ring) return true;
    cv::Mat smooth, dilated, eroded;
    cv::GaussianBlur(chroma(outer), smooth, {5, 5}, 0);
    const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_RECT, {5, 5});
    cv::dilate(smooth, dilated, kernel);
    cv::erode(smooth, eroded, kernel);
    cv::Mat edges = (dilated - eroded) > 40;
    // The candidate's own strokes (and the 2 px the smoothing spreads them) are not the surroundings.
    const cv::Rect inner_local = cv::Rect(inner.x - outer.x - 3, inner.y - outer.y - 3, inner.width + 6, inner.height + 6) &
                                 cv::Rect(0, 0, outer.width, outer.height);
    edges(inner_local).setTo(0);
    return cv::countNonZero(edges) * 100 < 3 * ring;
}

// The 8-bit pictures text is searched in, text bright in each: the display image (text brighter
// than its surroundings), its inverse (text darker: light anatomy, light backgrounds) and, for
// colour frames, the chroma (max - min sample: coloured text on grey) and the largest per-sample
// top-hat (coloured text over colour).
std::vector<cv::Mat> pictures_of(const cv::Mat& grey, const cv::Mat& rgb) {
    std::vector<cv::Mat> out{grey, cv::Mat()};
    cv::bitwise_not(grey, out[1]);
    if (!rgb.empty()) {
        std::vector<cv::Mat> ch;
        cv::split(rgb, ch);
        cv::Mat hi, lo;
        cv::max(ch[0], ch[1], hi);
        cv::max(hi, ch[2], hi);
        cv::min(ch[0], ch[1], lo);
        cv::min(lo, ch[2], lo);
        out.push_back(hi - lo);
        // Coloured text over colour (yellow on blue flow, white on red, cyan on a colour bar):
        // bright in some sample though not in the brightest one nor in the chroma. The largest
        // per-sample top-hat finds it.
        cv::Mat hats;
        cv::morphologyEx(rgb, hats, cv::MORPH_TOPHAT, cv::getStructuringElement(cv::MORPH_RECT, {15, 15}));
        std::vector<cv::Mat> hc;
        cv::split(hats, hc);
        cv::Mat m;
        cv::max(hc[0], hc[1], m);
        cv::max(m, hc[2], m);
        out.push_back(m);
    }
    return out;
}

// Text continues along its line: grows `b` left and right over columns of its band where one of
// the top-hat pictures `hats` has stroke pixels clearly above the noise around `b` (faint
// letters on light anatomy, a word's tail OCR and the detector missed, gaps between words).
// At most 3 line heights each side; stops at a gap wider than half a line height; a column
// counts when it has max(2, height / 10) such pixels. In colour
// frames (`chroma` not empty) a column mostly coloured (colour flow) counts as a gap.
cv::Rect extend_along_line(const cv::Rect& b, const std::vector<cv::Mat>& hats, const cv::Mat& chroma) {
    const cv::Rect frame(0, 0, hats[0].cols, hats[0].rows);
    const int h = std::max(1, b.height);
    std::vector<double> threshold;
    for (const cv::Mat& hat : hats) {
        double median = 0, noise = 0;
        ring_statistics(hat, b, h, median, noise);
        threshold.push_back(median + std::max(12.0, 4.0 * noise));
    }
    // A column of text crosses at least one stroke (about a tenth of the line height or more);
    // a tall box's band is crossed by anatomy (vessels, edges) in one or two pixels here and there.
    const int min_ink = std::max(2, h / 10);
    auto inky = [&](int x) {
        if (!chroma.empty()) {
            int coloured = 0;
            for (int y = std::max(0, b.y); y < std::min(frame.height, b.y + b.height); ++y)
                coloured += chroma.at<std::uint8_t>(y, x) > 40;
            if (coloured * 10 > 6 * b.height) return false;
        }
        for (std::size_t k = 0; k < hats.size(); ++k) {
            int n = 0;
            for (int y = std::max(0, b.y); y < std::min(frame.height, b.y + b.height); ++y)
                if (hats[k].at<std::uint8_t>(y, x) > threshold[k] && ++n >= min_ink) return true;
        }
        return false;
    };
    int left = b.x, right = b.x + b.width;  // [left, right)
    for (int x = b.x - 1, gap = 0; x >= std::max(0, b.x - 3 * h) && gap <= h / 2; --x)
        if (inky(x)) left = x, gap = 0;
        else ++gap;
    for (int x = b.x + b.width, gap = 0; x < std::min(frame.width, b.x + b.width + 3 * h) && gap <= h / 2; ++x)
        if (inky(x)) right = x + 1, gap = 0;
        else ++gap;
    if (left < b.x) left = std::max(0, left - 2);
    if (right > b.x + b.width) right = std::min(frame.width, right + 2);
    return cv::Rect(left, b.y, right - left, b.height) & frame;
}

// Reads many crops with one Tesseract call: stacked into one page, words mapped back by position.
std::vector<std::vector<OcrWord>> read_batch(const std::vector<cv::Mat>& pieces) {
    std::vector<std::vector<OcrWord>> out(pieces.size());
    if (pieces.empty()) return out;
    int width = 0, height = 0;
    std::vector<int> top;
    for (const cv::Mat& p : pieces) {
        top.push_back(height);
        width = std::max(width, p.cols);
        height += p.rows;
    }
    cv::Mat page(height, width, CV_8UC1, cv::Scalar(255));
    for (std::size_t i = 0; i < pieces.size(); ++i)
        if (!pieces[i].empty()) pieces[i].copyTo(page(cv::Rect(0, top[i], pieces[i].cols, pieces[i].rows)));
    for (OcrWord& w : OcrEngine::for_this_thread().read(page, OcrLayout::sparse).words) {
        const int cy = w.box.y + w.box.height / 2;
        const auto it = std::upper_bound(top.begin(), top.end(), cy);
        const std::size_t i = static_cast<std::size_t>(it - top.begin()) - 1;
        if (i < out.size()) out[i].push_back(std::move(w));
    }
    return out;
}

// `m` at the size detection searches a frame of size `whole` (empty: m's own) at.
cv::Mat downscaled(const cv::Mat& m, double& scale, int interpolation, cv::Size whole = {}) {
    scale = 1.0;
    if (whole.empty()) whole = m.size();
    if (std::max(whole.width, whole.height) <= kDetectMaxDimension) return m;
    scale = static_cast<double>(kDetectTargetDimension) / std::max(whole.width, whole.height);
    cv::Mat out;
    cv::resize(m, out, {}, scale, scale, interpolation);
    return out;
}

cv::Rect to_full_size(const cv::Rect& b, double scale) {
    if (scale == 1.0) return b;
    const int x0 = static_cast<int>(std::floor(b.x / scale)) - 2, y0 = static_cast<int>(std::floor(b.y / scale)) - 2;
    const int x1 = static_cast<int>(std::ceil((b.x + b.width) / scale)) + 2;
    const int y1 = static_cast<int>(std::ceil((b.y + b.height) / scale)) + 2;
    return cv::Rect(x0, y0, x1 - x0, y1 - y0);
}

}  // namespace

struct PixelCleaner::Impl {
    explicit Impl(const config::Pixels& c) : config(c), rules(config) {
        for (const std::string& w : config.allow_words) {
            const std::string n = normalise_word(w);
            if (!n.empty()) allow.insert(n);
        }
    }
    config::Pixels config;
    ScopeRules rules;
    TextDetector detector;
    std::set<std::string> allow;

    bool allowed(const OcrWord& w) const { return allow.count(normalise_word(w.text)) > 0; }

    // Letters/digits in words that are not on the allow-list, have at least `per_word_alnum`
    // letters/digits and at least `confidence`.
    int readable_chars(const std::vector<OcrWord>& words, float confidence, int per_word_alnum) const {
        int total = 0;
        for (const OcrWord& w : words) {
            const int n = count_alnum(w.text);
            if (n >= per_word_alnum && w.confidence >= confidence && !allowed(w)) total += n;
        }
        return total;
    }

    // Candidates worth a look, in full-size coordinates.
    struct Found {
        cv::Rect box;
        bool certain = false;   // text without asking OCR
        bool vertical = false;  // a line running up or down (text rotated 90 or 270 degrees)
        bool glyph_like = false;  // one hue and clearly apart from its surroundings (may join a line of text)
        int picture = 0;          // index into the pictures it was found in
        bool glyph_line = false;  // its strokes look like a line of glyphs (TextScreen)
    };
    struct Search {
        std::vector<Found> found;
        std::vector<cv::Mat> hats, strokes;  // per picture, full size (empty when searched downscaled)
    };
    // `screened`: the image is only screened: candidates must pass TextScreen, none is certain.
    // `whole`: the size of the whole frame when `pictures` are a part of it (a line is too wide to
    // be text when it spans 90 % of the frame, not of the part).
    Search find(const std::vector<cv::Mat>& pictures, const cv::Mat& rgb, bool screened, cv::Size whole = {}) const {
        double scale = 1.0;
        cv::Mat det_rgb;
        if (!rgb.empty()) det_rgb = downscaled(rgb, scale, cv::INTER_AREA);
        const cv::Rect frame(0, 0, pictures[0].cols, pictures[0].rows);
        Search out;
        for (std::size_t p = 0; p < pictures.size(); ++p) {
            const cv::Mat& picture = pictures[p];
            const int picture_index = static_cast<int>(p);
            // A part of a large frame is searched at the scale of the whole frame (the same glyph sizes).
            const cv::Mat det = downscaled(picture, scale, cv::INTER_AREA, whole);
            const cv::Mat hat = TextDetector::top_hat(det);
            const cv::Mat strokes = TextDetector::strokes_of_top_hat(hat);
            auto take = [&](const TextCandidate& c, const cv::Mat& stroke_mask, bool vertical) {
                if (c.contrast_ratio < kMinContrastRatio) return;
                if (screened && !TextScreen::looks_like_text(stroke_mask, c.box)) return;
                // Vertical lines were found in the transposed picture: transpose the box back.
                const cv::Rect own = vertical ? cv::Rect(c.box.y, c.box.x, c.box.height, c.box.width) : c.box;
                const cv::Rect b = to_full_size(own, scale) & frame;
                if (b.empty()) return;
                // Certain: clearly apart from an even background, one hue, and as wide as a few
                // glyphs joined (a lone blob -- a hole in colour flow, a speckle -- is not).
                const bool word_like = c.box.width >= kCertainMinAspect * c.box.height;
                // ... and its strokes are a line of glyphs (TextScreen): vessels, speckle and
                // edges that stand out as clearly are left to OCR.
                const bool glyph_line = screened || TextScreen::looks_like_text(stroke_mask, c.box);
                const bool certain = !screened && c.contrast_ratio >= kFlatContrastRatio && c.ring_noise <= kFlatMaxNoise &&
                                     c.hue_spread <= kMaxHueSpread && word_like &&
                                     (pictures.size() < 3 || grey_surroundings(pictures[2], b)) && glyph_line;
                const bool glyph_like = c.contrast_ratio >= kFlatContrastRatio && c.hue_spread <= kMaxHueSpread;
                out.found.push_back({b, certain, vertical, glyph_like, picture_index, glyph_line});
            };
            const cv::Size full = whole.empty() ? picture.size() : whole;
            const int max_w = static_cast<int>(0.9 * full.width * scale), max_h = static_cast<int>(0.9 * full.height * scale);
            for (const TextCandidate& c : detector.detect(det, strokes, det_rgb, hat, 7, max_w)) take(c, strokes, false);
            // Text rotated 90/270: the same detector on the transposed picture; only lines
            // clearly longer than high there (a horizontal line's letters seen sideways are not).
            const cv::Mat strokes_t = strokes.t();
            // A wider closing there: large rotated letters stand further apart than 7 px.
            for (const TextCandidate& c : detector.detect(det.t(), strokes_t, det_rgb.empty() ? cv::Mat() : cv::Mat(det_rgb.t()),
                                                          hat.t(), kVerticalJoin, max_h))
                if (c.box.width >= kVerticalMinAspect * c.box.height) take(c, strokes_t, true);
            if (scale == 1.0) out.hats.push_back(hat), out.strokes.push_back(strokes);
        }
        return out;
    }

    // The first pass of the screen (TextScreen::text_areas) runs on screened grey frames.
    static bool first_pass_applies(const Scope& scope, const ImageLayout& layout) {
        return scope.screened_only && scope.template_rects.empty() && layout.samples == 1 &&
               layout.photometric != "PALETTE COLOR";
    }
    static std::vector<cv::Rect> first_pass_areas(const cv::Mat& native, const ImageLayout& layout) {
        // The first pass reads the stored values as they are when they look plain (in Bits
        // Stored, the usual case; values outside the estimated range only saturate), else the
        // display image.
        double lo = 0, hi = 0;
        TextScreen::range_of(native, lo, hi);
        if (plain_stored_values(native, layout, lo, hi)) return TextScreen::text_areas(native, lo, hi);
        return TextScreen::text_areas(display_image(native, layout));
    }

    // The detector in the first pass's areas only (screened grey frames): boxes in frame
    // coordinates; the top-hat and stroke pictures are left empty (computed on the whole frame
    // when text is cleaned).
    Search find_in(const std::vector<cv::Mat>& pictures, const std::vector<cv::Rect>& areas) const {
        Search out;
        for (const cv::Rect& a : areas) {
            std::vector<cv::Mat> part;
            for (const cv::Mat& p : pictures) part.push_back(p(a));
            for (Found f : find(part, {}, true, pictures[0].size()).found) {
                f.box += a.tl();
                out.found.push_back(f);
            }
        }
        return out;
    }

    // A vertical candidate is read turned both ways (90 and 270 degrees): two pieces.
    static void add_pieces(std::vector<cv::Mat>& pieces, const cv::Mat& crop, bool vertical) {
        if (!vertical) {
            pieces.push_back(crop);
            return;
        }
        cv::Mat a, b;
        if (!crop.empty()) cv::rotate(crop, a, cv::ROTATE_90_CLOCKWISE), cv::rotate(crop, b, cv::ROTATE_90_COUNTERCLOCKWISE);
        pieces.push_back(a);
        pieces.push_back(b);
    }
    // Answers per asked candidate: `counts[k]` pieces of the k-th (two readings of a vertical
    // crop, a second binarisation), their words joined.
    static std::vector<std::vector<OcrWord>> merged_answers(std::vector<std::vector<OcrWord>> read,
                                                            const std::vector<int>& counts) {
        std::vector<std::vector<OcrWord>> out;
        std::size_t k = 0;
        for (int n : counts) {
            out.emplace_back();
            for (int j = 0; j < n && k < read.size(); ++j, ++k)
                for (OcrWord& w : read[k]) out.back().push_back(std::move(w));
        }
        return out;
    }

    std::string clean_frame(cv::Mat& native, const ImageLayout& layout, const Scope& scope, int index,
                            PixelReport& report, bool run_verify = true) const;
    // `planes`: the overlay planes of the file's data set; clean() hands the same to both, so
    // the data set is walked for 60xx groups once.
    PixelReport clean_pixels(DcmFileFormat& file, OverlayPlanes& planes) const;
    void clean_overlays(OverlayPlanes& planes, PixelReport& report) const;
    std::string verify_frame(const cv::Mat& native, const ImageLayout& layout, const std::vector<cv::Rect>& cleaned,
                             const std::vector<cv::Rect>& read_before, bool screened) const;
    static std::vector<cv::Mat> verify_pictures(const std::vector<cv::Mat>& pictures) {
        std::vector<cv::Mat> v{pictures[0]};  // the inverse adds nothing to |value - median|
        if (pictures.size() > 2) v.push_back(pictures[2]);
        if (pictures.size() > 3) v.push_back(pictures[3]);
        return v;
    }
};

std::string PixelCleaner::Impl::clean_frame(cv::Mat& native, const ImageLayout& layout, const Scope& scope,
                                            int index, PixelReport& report, bool run_verify) const {
    const std::vector<cv::Rect>& templates = scope.template_rects;
    const bool screened = scope.screened_only;
    const cv::Rect frame(0, 0, native.cols, native.rows);
    // Screened grey frames: the first pass decides where the detector looks; a frame without
    // text-like strokes anywhere costs nothing more (no display image, detector, OCR or
    // verification).
    const bool first_pass = first_pass_applies(scope, layout);
    std::vector<cv::Rect> areas;
    if (first_pass && (areas = first_pass_areas(native, layout)).empty()) return {};
    const cv::Mat grey = display_image(native, layout);
    const cv::Mat rgb = colour_image(native, layout);
    const std::vector<cv::Mat> pictures = pictures_of(grey, rgb);
    Search search = first_pass ? find_in(pictures, areas) : find(pictures, rgb, screened);
    const std::vector<Found>& found = search.found;

    // OCR only where it decides something: doubtful candidates that are not mostly inside a
    // certain one (the same letters seen in another picture), and all of them when an
    // allow-list could keep some.
    std::vector<std::size_t> asked;
    std::vector<cv::Mat> pieces;
    std::vector<cv::Rect> read_before;  // doubtful candidates OCR judged (verification skips them)
    for (std::size_t i = 0; i < found.size(); ++i) {
        if (found[i].certain && allow.empty()) continue;
        if (allow.empty()) {
            bool covered = false;
            for (const Found& f : found)
                covered = covered || (f.certain && (f.box & found[i].box).area() * 2 >= found[i].box.area());
            if (covered) continue;
        }
        asked.push_back(i);
    }
    auto grey_surroundings_of = [&](const cv::Rect& b) { return pictures.size() < 3 || grey_surroundings(pictures[2], b); };
    std::vector<int> counts;
    std::vector<char> local;  // per piece: a local binarisation (ocr_input_local)
    for (std::size_t i : asked) {
        const std::size_t before = pieces.size();
        // Coloured text over colour is read in the picture that shows it; the rest as before, in the display image.
        const cv::Mat& source = found[i].picture >= 3 ? pictures[static_cast<std::size_t>(found[i].picture)] : grey;
        add_pieces(pieces, ocr_input(source, found[i].box, 2, found[i].vertical), found[i].vertical);
        // Screened images: also read against the strokes' own neighbourhood (text over ground of
        // changing brightness; OCR runs on few candidates there).
        // Colour flow: the same for candidates over it (a word crossing blobs and speckle).
        if ((screened && found[i].picture <= 1) || !grey_surroundings_of(found[i].box)) {
            const std::size_t first_local = pieces.size();
            add_pieces(pieces, ocr_input_local(pictures[static_cast<std::size_t>(found[i].picture)], found[i].box, 4,
                                               found[i].vertical),
                       found[i].vertical);
            local.resize(pieces.size(), 0);
            std::fill(local.begin() + static_cast<long>(first_local), local.end(), 1);
        }
        counts.push_back(static_cast<int>(pieces.size() - before));
    }
    std::vector<std::vector<OcrWord>> read = read_batch(pieces);
    // The local binarisation also draws anatomy's own bright texture: its words count only when
    // OCR is sure of them.
    for (std::size_t k = 0; k < read.size() && k < local.size(); ++k)
        if (local[k])
            read[k].erase(std::remove_if(read[k].begin(), read[k].end(),
                                         [](const OcrWord& w) { return w.confidence < kLocalConfidence; }),
                          read[k].end());
    const auto answers = merged_answers(std::move(read), counts);
    report.regions_read += static_cast<int>(pieces.size());
    std::vector<const std::vector<OcrWord>*> words(found.size(), nullptr);
    for (std::size_t k = 0; k < asked.size(); ++k) words[asked[k]] = &answers[k];

    // Colour flow (colour frames, candidate with coloured surroundings): OCR must read a real word
    // there, and neither the same-line rule nor the line extension spreads into or out of it.
    std::vector<char> grey_around(found.size(), 1);
    for (std::size_t i = 0; i < found.size(); ++i) grey_around[i] = grey_surroundings_of(found[i].box);
    std::vector<char> is_text(found.size(), 0);
    for (std::size_t i = 0; i < found.size(); ++i)
        is_text[i] = found[i].certain ||
                     (words[i] && screened && readable_chars(*words[i], kScreenConfidence, kScreenAlnum) > 0) ||
                     (words[i] && !screened && (grey_around[i] ? readable_chars(*words[i], kDetectConfidence, 1) >= kDetectAlnum &&
                                                        (found[i].glyph_line || readable_chars(*words[i], kDetectConfidence, kWordAlnum) > 0)
                                                  : readable_chars(*words[i], kColourFlowConfidence, kColourFlowAlnum) > 0));
    // Screened images: text turned 180 degrees (an image stored upside down) is read turned back;
    // only candidates OCR did not find text in upright, so text-free frames that pass the first
    // pass pay it only for what the candidate screen let through (vertical candidates are
    // already read turned both ways).
    if (screened) {
        std::vector<std::size_t> again;
        std::vector<cv::Mat> turned;
        std::vector<char> turned_local;
        for (std::size_t i : asked) {
            if (is_text[i] || found[i].vertical) continue;
            again.push_back(i);
            for (int way = 0; way < 2; ++way) {
                cv::Mat crop = way == 0 ? ocr_input(grey, found[i].box, 2)
                                        : ocr_input_local(pictures[static_cast<std::size_t>(std::min(found[i].picture, 1))],
                                                          found[i].box, 4);
                if (!crop.empty()) cv::rotate(crop, crop, cv::ROTATE_180);
                turned.push_back(crop);
                turned_local.push_back(way == 1);
            }
        }
        if (!again.empty()) {
            std::vector<std::vector<OcrWord>> read = read_batch(turned);
            report.regions_read += static_cast<int>(turned.size());
            for (std::size_t k = 0; k < read.size(); ++k)
                if (turned_local[k])
                    read[k].erase(std::remove_if(read[k].begin(), read[k].end(),
                                                 [](const OcrWord& w) { return w.confidence < kLocalConfidence; }),
                                  read[k].end());
            read = merged_answers(std::move(read), std::vector<int>(again.size(), 2));
            for (std::size_t k = 0; k < again.size() && k < read.size(); ++k)
                if (readable_chars(read[k], kScreenConfidence, kScreenAlnum) > 0) is_text[again[k]] = 1;
        }
    }
    // A word across colour flow breaks into pieces of one or two letters (blob edges and speckle
    // cut its strokes), none of which OCR can judge alone: doubtful pieces over colour flow that
    // lie on one line (vertical overlap of half the smaller height, heights within 0.6-1.6x, gaps
    // up to one height) are read again as one line; a word read there makes them all text.
    {
        std::vector<std::size_t> loose;
        for (std::size_t i = 0; i < found.size(); ++i)
            if (!is_text[i] && !found[i].vertical && !grey_around[i]) loose.push_back(i);
        std::vector<int> line(found.size(), -1);
        std::vector<cv::Rect> lines;
        std::vector<std::vector<std::size_t>> members;
        for (std::size_t a : loose) {
            if (line[a] >= 0) continue;
            line[a] = static_cast<int>(lines.size());
            lines.push_back(found[a].box);
            members.push_back({a});
            for (bool grew = true; grew;) {
                grew = false;
                for (std::size_t b : loose) {
                    if (line[b] >= 0) continue;
                    const cv::Rect& l = lines.back();
                    const cv::Rect& c = found[b].box;
                    const double ratio = static_cast<double>(c.height) / std::max(1, found[members.back()[0]].box.height);
                    const int overlap = std::min(l.y + l.height, c.y + c.height) - std::max(l.y, c.y);
                    const int gap = std::max(l.x, c.x) - std::min(l.x + l.width, c.x + c.width);
                    if (ratio < 0.6 || ratio > 1.6 || overlap < 0.5 * std::min(l.height, c.height) || gap > c.height) continue;
                    line[b] = line[a];
                    lines.back() |= c;
                    members.back().push_back(b);
                    grew = true;
                }
            }
        }
        std::vector<cv::Mat> line_pieces;
        std::vector<char> line_local;
        std::vector<std::size_t> asked_lines;
        cv::Mat luma;
        for (std::size_t k = 0; k < lines.size(); ++k) {
            if (members[k].size() < 2) continue;
            asked_lines.push_back(k);
            // In the display image, against the strokes' neighbourhood, and in the largest
            // per-sample top-hat (coloured text over colour).
            auto add = [&](cv::Mat piece, bool is_local) {
                line_pieces.push_back(std::move(piece));
                line_local.push_back(is_local);
            };
            add(ocr_input(grey, lines[k], 2), false);
            add(ocr_input_local(grey, lines[k], 4), true);
            if (pictures.size() > 3) add(ocr_input(pictures[3], lines[k], 2), false);
            if (!rgb.empty()) {  // luminance: yellow over red or blue flow stands apart there
                if (luma.empty()) cv::cvtColor(rgb, luma, cv::COLOR_RGB2GRAY);
                add(ocr_input(luma, lines[k], 2), false);
                add(ocr_input_local(luma, lines[k], 4), true);
            }
        }
        if (!line_pieces.empty()) {
            const std::size_t per_line = line_pieces.size() / asked_lines.size();
            std::vector<std::vector<OcrWord>> read = read_batch(line_pieces);
            for (std::size_t k = 0; k < read.size(); ++k)
                if (line_local[k])  // as above: a local binarisation's words count when OCR is sure
                    read[k].erase(std::remove_if(read[k].begin(), read[k].end(),
                                                 [](const OcrWord& w) { return w.confidence < kLocalConfidence; }),
                                  read[k].end());
            read = merged_answers(std::move(read), std::vector<int>(asked_lines.size(), static_cast<int>(per_line)));
            report.regions_read += static_cast<int>(line_pieces.size());
            for (std::size_t k = 0; k < asked_lines.size() && k < read.size(); ++k)
                if (readable_chars(read[k], kColourFlowConfidence, kColourFlowAlnum) > 0)
                    for (std::size_t i : members[asked_lines[k]]) is_text[i] = 1;
        }
    }
    // Text continues along its line: a doubtful neighbour on the same line as text (a lone
    // letter OCR cannot judge, the rest of a word) is text too.
    for (bool grew = true; grew;) {
        grew = false;
        for (std::size_t i = 0; i < found.size(); ++i) {
            // Into colour flow only a glyph-like candidate goes (one hue, high contrast: the part
            // of a word crossing a flow blob), and only next to text of about its height.
            if (is_text[i] || (!grey_around[i] && !found[i].glyph_like)) continue;
            const cv::Rect& a = found[i].box;
            for (std::size_t j = 0; j < found.size() && !is_text[i]; ++j) {
                if (!is_text[j] || found[i].vertical != found[j].vertical) continue;
                // Of about the height of the text beside it (its line height across the line):
                // a lone letter has it; a vessel loop, an organ edge beside a word have not.
                {
                    const bool v = found[i].vertical;
                    const double ratio = static_cast<double>(v ? a.width : a.height) /
                                         std::max(1, v ? found[j].box.width : found[j].box.height);
                    if (ratio < 0.6 || ratio > 1.6) continue;
                }
                if (!grey_around[i] && found[i].vertical) continue;
                cv::Rect b = found[j].box;
                if (found[i].vertical) {  // the same rule along a vertical line: swap the axes
                    const cv::Rect a_t(a.y, a.x, a.height, a.width), b_t(b.y, b.x, b.height, b.width);
                    const int overlap = std::min(a_t.y + a_t.height, b_t.y + b_t.height) - std::max(a_t.y, b_t.y);
                    const int gap = std::max(a_t.x, b_t.x) - std::min(a_t.x + a_t.width, b_t.x + b_t.width);
                    const int h = std::max(a_t.height, b_t.height);
                    if (overlap >= 0.5 * std::min(a_t.height, b_t.height) && gap <= 1.5 * h) is_text[i] = 1, grew = true;
                    continue;
                }
                const int overlap = std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y);
                const int gap = std::max(a.x, b.x) - std::min(a.x + a.width, b.x + b.width);
                const int h = std::max(a.height, b.height);
                if (overlap >= 0.5 * std::min(a.height, b.height) && gap <= 1.5 * h) is_text[i] = 1, grew = true;
            }
        }
    }
    std::vector<cv::Rect> text_boxes;
    std::vector<char> text_vertical;
    for (std::size_t i = 0; i < found.size(); ++i) {
        if (!is_text[i]) continue;
        if (!allow.empty() && words[i]) {
            int kept = 0, other = 0;
            for (const OcrWord& w : *words[i]) {
                if (count_alnum(w.text) == 0) continue;
                (allowed(w) ? kept : other)++;
            }
            if (kept > 0 && other == 0) continue;  // only harmless words
        }
        text_boxes.push_back(found[i].box);
        text_vertical.push_back(found[i].vertical);
    }
    // Parts added along the line hold faint strokes the stroke masks miss: inpainting takes them whole.
    std::vector<cv::Rect> extensions;
    if (!text_boxes.empty()) {
        std::vector<cv::Mat>& hats = search.hats;
        if (hats.empty())
            for (const cv::Mat& picture : pictures) hats.push_back(TextDetector::top_hat(picture));
        for (std::size_t t = 0; t < text_boxes.size(); ++t) {
            cv::Rect& b = text_boxes[t];
            if (text_vertical[t]) continue;          // lines grow along their own direction only
            if (!grey_surroundings_of(b)) continue;  // no growing inside colour flow
            const cv::Rect e = extend_along_line(b, hats, pictures.size() > 2 ? pictures[2] : cv::Mat());
            if (e.x < b.x) extensions.emplace_back(e.x, e.y, b.x - e.x, e.height);
            if (e.x + e.width > b.x + b.width) extensions.emplace_back(b.x + b.width, e.y, e.x + e.width - b.x - b.width, e.height);
            b = e;
        }
    }

    const bool indexed = layout.photometric == "PALETTE COLOR";
    std::vector<cv::Rect> cleaned;
    for (const cv::Rect& t : templates) {
        const cv::Rect b = t & frame;
        if (b.empty()) continue;
        RegionFiller::fill_background(native, b, indexed);
        cleaned.push_back(b);
        report.regions.push_back({index, b.x, b.y, b.width, b.height, true});
    }
    if (!text_boxes.empty()) {
        const bool inpaint = config.fill == "inpaint" && !indexed;
        cv::Mat strokes;
        if (inpaint) {
            strokes = cv::Mat::zeros(grey.size(), CV_8UC1);
            for (std::size_t k = 0; k < pictures.size(); ++k)
                strokes |= k < search.strokes.size() ? search.strokes[k] : detector.stroke_mask(pictures[k]);
            for (const cv::Rect& e : extensions) strokes(e).setTo(255);
        }
        for (const cv::Rect& b : text_boxes) {
            if (inpaint)
                RegionFiller::inpaint(native, b, strokes);
            else
                RegionFiller::fill_background(native, b, indexed);
            cleaned.push_back(b);
            report.regions.push_back({index, b.x, b.y, b.width, b.height, false});
        }
    }
    report.regions_cleaned += static_cast<int>(cleaned.size());
    if (!config.verify || !run_verify) return {};
    // Nothing cleaned and every candidate judged: verification would find the same candidates in
    // the same pixels and skip them all.
    if (cleaned.empty() && allow.empty() && asked.size() == found.size()) return {};
    for (std::size_t i : asked)
        if (!is_text[i]) read_before.push_back(found[i].box);
    return verify_frame(native, layout, cleaned, read_before, screened);
}

// Reads the cleaned frame again, in one OCR call: every cleaned region with its neighbourhood,
// and every candidate the detector finds anywhere in the cleaned frame (certain or not) except
// those inside a cleaned neighbourhood (read with it) and doubtful ones that detection already
// read with OCR and found not to be text (unchanged pixels, same answer).
std::string PixelCleaner::Impl::verify_frame(const cv::Mat& native, const ImageLayout& layout,
                                             const std::vector<cv::Rect>& cleaned,
                                             const std::vector<cv::Rect>& read_before, bool screened) const {
    const cv::Mat rgb = colour_image(native, layout);
    const std::vector<cv::Mat> pictures = pictures_of(display_image(native, layout), rgb);
    const std::vector<cv::Mat> checked = verify_pictures(pictures);
    // Cleaned boxes that touch or overlap (one line seen in several pictures, words of a line)
    // are read as one piece: their bounding box with half a line height around it.
    std::vector<cv::Rect> groups;
    for (const cv::Rect& b : cleaned) {
        cv::Rect g = b;
        for (bool merged = true; merged;) {
            merged = false;
            for (std::size_t k = 0; k < groups.size(); ++k) {
                const int m = std::max(2, std::min(g.height, groups[k].height) / 2);
                const cv::Rect grown(g.x - m, g.y, g.width + 2 * m, g.height);
                const int overlap = std::min(g.y + g.height, groups[k].y + groups[k].height) - std::max(g.y, groups[k].y);
                if ((grown & groups[k]).area() > 0 && overlap >= std::min(g.height, groups[k].height) / 2) {
                    g |= groups[k];
                    groups.erase(groups.begin() + static_cast<long>(k));
                    merged = true;
                    break;
                }
            }
        }
        groups.push_back(g);
    }
    std::vector<cv::Mat> pieces;
    std::vector<cv::Rect> areas;
    for (const cv::Rect& b : groups) {
        const bool vertical = b.height >= kVerticalMinAspect * b.width;  // read turned too
        const int m = std::max(4, (vertical ? b.width : b.height) / 2);
        add_pieces(pieces, verify_input(checked, b, m, vertical), vertical);
        areas.emplace_back(b.x - m, b.y - m, b.width + 2 * m, b.height + 2 * m);
    }
    for (const Found& f : find(pictures, rgb, screened).found) {
        bool skip = std::find(read_before.begin(), read_before.end(), f.box) != read_before.end();
        for (const cv::Rect& a : areas) skip = skip || (a & f.box) == f.box;
        const int margin = std::max(4, std::min(f.box.height, f.box.width) / 2);
        if (!skip) add_pieces(pieces, verify_input(checked, f.box, margin, f.vertical), f.vertical);
    }
    // Screened images: each piece also turned 180 degrees (text stored upside down; the pieces of
    // a vertical crop are already both turns).
    if (screened)
        for (std::size_t k = 0, n = pieces.size(); k < n; ++k) {
            cv::Mat t;
            if (!pieces[k].empty()) cv::rotate(pieces[k], t, cv::ROTATE_180);
            pieces.push_back(t);
        }
    for (const auto& words : read_batch(pieces))
        if (readable_chars(words, kVerifyConfidence, kVerifyAlnum) > 0) return "text still readable after cleaning";
    return {};
}

PixelCleaner::PixelCleaner(const config::Pixels& config) : impl_(new Impl(config)) {}
PixelCleaner::~PixelCleaner() = default;

PixelReport PixelCleaner::clean(DcmFileFormat& file) {
    DcmDataset* ds = file.getDataset();
    if (!ds) return {};
    OverlayPlanes planes(*ds);
    PixelReport report = impl_->clean_pixels(file, planes);
    if (report.failure.empty()) impl_->clean_overlays(planes, report);
    return report;
}

std::string PixelCleaner::find_readable_text(DcmFileFormat& file) {
    DcmDataset* ds = file.getDataset();
    if (!ds) return {};
    // What clean() would find on a copy of each frame (detection, the screen, OCR; no template
    // rectangles: they are not evidence of text), then the verification reading of it.
    auto readable = [&](cv::Mat picture, const ImageLayout& layout, Scope scope, int index) -> std::string {
        scope.template_rects.clear();
        PixelReport probe;
        const cv::Mat untouched = picture.clone();
        impl_->clean_frame(picture, layout, scope, index, probe, false);
        if (probe.regions_cleaned > 0) return "text found by detection and OCR";
        return impl_->verify_frame(untouched, layout, {}, {}, scope.screened_only);
    };
    try {
        for (const OverlayPlane& p : OverlayPlanes(*ds).read()) {
            ImageLayout layout;
            layout.rows = p.rows, layout.columns = p.columns, layout.frames = p.frames, layout.samples = 1;
            layout.bits_allocated = layout.bits_stored = 8, layout.photometric = "MONOCHROME2";
            for (int f = 0; f < p.frames; ++f)
                if (std::string why = readable(p.pictures[f].clone(), layout, Scope{}, f); !why.empty())
                    return why + " (overlay " + std::to_string(p.group - 0x6000 + 1) + ")";
        }
        const Scope scope = impl_->rules.evaluate(*ds);
        if (!scope.in_scope || !ds->tagExists(DCM_PixelData)) return {};
        OFString meta_xfer;
        if (file.getMetaInfo()) file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, meta_xfer);
        FrameCodec codec(*ds, meta_xfer.c_str());
        std::string result;
        if (codec.open().empty()) {
            const ImageLayout& layout = codec.layout();
            for (int i = 0; i < layout.frames && result.empty(); ++i)
                if (std::string why = readable(codec.frame(i), layout, scope, i); !why.empty())
                    result = why + " (frame " + std::to_string(i + 1) + ")";
        }
        codec.commit(false);
        return result;
    } catch (const std::exception& e) {
        return std::string("pixel verification error: ") + e.what();
    }
}

PixelReport PixelCleaner::clean_overlays(DcmFileFormat& file) {
    PixelReport report;
    if (!file.getDataset()) return report;
    OverlayPlanes planes(*file.getDataset());
    impl_->clean_overlays(planes, report);
    return report;
}

// Overlay planes kept by the profile (Clean Graphics): each overlay frame is searched like a grey
// image whose text is the set bits, cleaned (bits of text boxes cleared) and verified; overlays
// that cannot be read are removed, and so are the attributes of overlays held in Pixel Data bits
// that clean_pixels() did not clear.
void PixelCleaner::Impl::clean_overlays(OverlayPlanes& planes, PixelReport& report) const {
    std::vector<OverlayPlane> read = planes.read();
    for (std::uint16_t g : planes.unreadable()) planes.remove(g), ++report.overlays_removed;
    for (const auto& [g, position] : planes.embedded()) planes.remove(g), ++report.overlays_removed;
    ImageLayout layout;
    layout.samples = 1, layout.bits_allocated = 8, layout.bits_stored = 8, layout.photometric = "MONOCHROME2";
    const Scope graphics;  // graphics are text-prone: certain candidates go without OCR
    for (OverlayPlane& p : read) {
        layout.rows = p.rows, layout.columns = p.columns, layout.frames = p.frames;
        bool changed = false;
        for (int f = 0; f < p.frames; ++f) {
            cv::Mat& picture = p.pictures[f];
            const std::size_t before = report.regions.size();
            const std::string why = clean_frame(picture, layout, graphics, f, report);
            for (std::size_t k = before; k < report.regions.size(); ++k) report.regions[k].overlay_group = p.group;
            if (report.regions.size() != before) {
                cv::threshold(picture, picture, 127, 255, cv::THRESH_BINARY);  // fill values back to bits
                changed = true;
            }
            if (!why.empty()) {
                report.failure = why + " (overlay " + std::to_string(p.group - 0x6000 + 1) + ")";
                return;
            }
        }
        if (changed) {
            if (std::string why = planes.write(p); !why.empty()) {
                report.failure = why;
                return;
            }
            ++report.overlays_cleaned;
        }
        ++report.overlays_examined;
    }
}

PixelReport PixelCleaner::Impl::clean_pixels(DcmFileFormat& file, OverlayPlanes& planes) const {
    PixelReport report;
    DcmDataset* ds = file.getDataset();
    if (!ds) return report;
    const Scope scope = rules.evaluate(*ds);  // a few header look-ups: all CT/MR pay
    if (!scope.in_scope || !ds->tagExists(DCM_PixelData)) return report;
    report.examined = true;
    try {
        OFString meta_xfer;
        if (file.getMetaInfo()) file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, meta_xfer);
        FrameCodec codec(*ds, meta_xfer.c_str());
        std::string why = codec.open();
        const ImageLayout& layout = codec.layout();
        if (why.empty() && layout.samples == 3 && layout.photometric != "RGB" && layout.photometric != "YBR_FULL" &&
            layout.photometric != "YBR_FULL_422")
            why = "unsupported Photometric Interpretation for cleaning: " + layout.photometric;
        if (!why.empty()) {
            // An image only screened (nothing says it has text) that this build cannot read
            // (segmentations, RT dose, unknown layouts) leaves as it came, not labelled as
            // examined; one that must be cleaned is quarantined.
            if (scope.screened_only) {
                codec.commit(false);
                report.examined = false;
                return report;
            }
            report.failure = why;
            return report;
        }
        bool changed = false;
        for (int i = 0; i < layout.frames; ++i) {
            // A screened grey frame without text-like strokes is not even copied.
            if (first_pass_applies(scope, layout) && first_pass_areas(codec.view(i), layout).empty()) {
                ++report.frames;
                continue;
            }
            cv::Mat native = codec.frame(i);
            const std::size_t before = report.regions.size();
            std::string why = clean_frame(native, layout, scope, i, report);
            ++report.frames;
            if (report.regions.size() != before) {
                codec.store_frame(i, native);
                changed = true;
            }
            if (!why.empty()) {
                report.failure = why + " (frame " + std::to_string(i + 1) + ")";
                return report;
            }
        }
        // Overlays in unused high bits of Pixel Data: those bits are cleared (the overlay is
        // removed; clean_overlays() deletes its attributes).
        for (const auto& [group, position] : planes.embedded()) {
            if (position < layout.bits_stored || position >= layout.bits_allocated || layout.samples != 1) continue;
            for (int i = 0; i < layout.frames; ++i) {
                cv::Mat native = codec.frame(i);
                const int keep = ~(1 << position) & (layout.bits_allocated == 8 ? 0xFF : 0xFFFF);
                if (native.depth() == CV_8U) native &= cv::Scalar(keep);
                else if (native.depth() == CV_16U) native &= cv::Scalar(keep);
                else {
                    cv::Mat u(native.size(), CV_16UC1, native.data);  // the same bits, unsigned
                    u &= cv::Scalar(keep);
                }
                codec.store_frame(i, native);
            }
            changed = true;
        }
        if (std::string why = codec.commit(changed); !why.empty()) {
            report.failure = why;
            return report;
        }
        report.reencoded = changed || codec.new_transfer_syntax() != 0;
        if (codec.new_transfer_syntax() != 0) {
            report.transfer_syntax_uid = DcmXfer(static_cast<E_TransferSyntax>(codec.new_transfer_syntax())).getXferID();
            file.getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, report.transfer_syntax_uid.c_str());
        }
        if (changed && codec.lossy_source()) ds->putAndInsertString(DCM_LossyImageCompression, "01");
        ds->putAndInsertString(DCM_BurnedInAnnotation, "NO");
        // The file meta follows the data set's transfer syntax when the file is written.
    } catch (const std::exception& e) {
        report.failure = std::string("pixel cleaning error: ") + e.what();
    }
    return report;
}

}  // namespace deid::pixels
