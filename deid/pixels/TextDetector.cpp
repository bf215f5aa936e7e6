#include "deid/pixels/TextDetector.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace deid::pixels {

void ring_statistics(const cv::Mat& grey8, const cv::Rect& box, int pad, double& median, double& noise) {
    // Counting sort (8-bit values): the same element nth_element would pick at rank n / 2, for
    // the values and for their absolute deviations, without copying or sorting the ring.
    const cv::Rect frame(0, 0, grey8.cols, grey8.rows);
    const cv::Rect outer = cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & frame;
    const cv::Rect inner = box & frame;
    std::array<int, 256> hist{};
    for (int y = outer.y; y < outer.y + outer.height; ++y) {
        const auto* row = grey8.ptr<std::uint8_t>(y);
        const bool crosses = y >= inner.y && y < inner.y + inner.height;
        for (int x = outer.x; x < outer.x + outer.width; ++x) {
            if (crosses && x >= inner.x && x < inner.x + inner.width) {
                x = inner.x + inner.width - 1;  // skip the box
                continue;
            }
            ++hist[row[x]];
        }
    }
    int n = 0;
    for (int c : hist) n += c;
    if (n == 0) {
        median = noise = 0;
        return;
    }
    auto rank = [](const std::array<int, 256>& h, int k) {  // value of the k-th smallest (0-based)
        int seen = 0;
        for (int v = 0; v < 256; ++v)
            if ((seen += h[static_cast<std::size_t>(v)]) > k) return v;
        return 255;
    };
    const int m = rank(hist, n / 2);
    std::array<int, 256> dev{};
    for (int v = 0; v < 256; ++v) dev[static_cast<std::size_t>(std::abs(v - m))] += hist[static_cast<std::size_t>(v)];
    median = m;
    noise = 1.4826 * rank(dev, n / 2);
}

// White top-hat (15x15) of the picture smoothed by a 3x3 Gaussian: strokes narrower than 15 px
// that are brighter than their surroundings; the smoothing lowers pixel noise (speckle, film
// grain) about threefold while strokes of 2 px and more keep most of their contrast.
cv::Mat TextDetector::top_hat(const cv::Mat& grey8) {
    cv::Mat smooth, tophat;
    cv::GaussianBlur(grey8, smooth, {3, 3}, 0);
    cv::morphologyEx(smooth, tophat, cv::MORPH_TOPHAT, cv::getStructuringElement(cv::MORPH_RECT, {15, 15}));
    return tophat;
}

cv::Mat TextDetector::stroke_mask(const cv::Mat& grey8) const {
    CV_Assert(grey8.type() == CV_8UC1);
    return strokes_of_top_hat(top_hat(grey8));
}

cv::Mat TextDetector::strokes_of_top_hat(const cv::Mat& tophat) {
    // Adaptive threshold: textured surroundings (noise, speckle) raise the bar locally.
    cv::Mat local;
    cv::blur(tophat, local, {31, 31});
    cv::Mat threshold;
    local.convertTo(threshold, CV_8U, 1.8, 20);
    cv::max(threshold, 20, threshold);
    cv::Mat mask = tophat > threshold;
    return mask;
}

std::vector<TextCandidate> TextDetector::detect(const cv::Mat& grey8) const {
    return detect(grey8, stroke_mask(grey8));
}

namespace {

double chromaticity_spread(const cv::Mat& rgb8, const cv::Mat& strokes, const cv::Rect& box) {
    // Only the cores of the strokes (brightest sample within 80 % of the brightest stroke pixel):
    // anti-aliased edges and noise caught in the mask mix with the background's colour.
    int brightest = 0;
    for (int y = box.y; y < box.y + box.height; ++y) {
        const auto* m = strokes.ptr<std::uint8_t>(y);
        const auto* p = rgb8.ptr<cv::Vec3b>(y);
        for (int x = box.x; x < box.x + box.width; ++x)
            if (m[x]) brightest = std::max(brightest, static_cast<int>(std::max({p[x][0], p[x][1], p[x][2]})));
    }
    const double floor = std::max(50.0, 0.8 * brightest);
    double n = 0, sr = 0, sg = 0, srr = 0, sgg = 0;
    for (int y = box.y; y < box.y + box.height; ++y) {
        const auto* m = strokes.ptr<std::uint8_t>(y);
        const auto* p = rgb8.ptr<cv::Vec3b>(y);
        for (int x = box.x; x < box.x + box.width; ++x) {
            if (!m[x] || std::max({p[x][0], p[x][1], p[x][2]}) < floor) continue;
            const double sum = p[x][0] + p[x][1] + p[x][2];
            const double r = p[x][0] / sum, g = p[x][1] / sum;
            n += 1, sr += r, sg += g, srr += r * r, sgg += g * g;
        }
    }
    if (n < 4) return 0;
    const double vr = srr / n - (sr / n) * (sr / n), vg = sgg / n - (sg / n) * (sg / n);
    return std::sqrt(std::max(0.0, vr) + std::max(0.0, vg));
}

}  // namespace

std::vector<TextCandidate> TextDetector::detect(const cv::Mat& grey8, const cv::Mat& strokes, const cv::Mat& rgb8,
                                                const cv::Mat& given_tophat, int join, int max_width) const {
    std::vector<TextCandidate> out;
    // Contrast is measured on the top-hat image: smooth shading (gradients, organs) drops out and
    // only fine texture counts as noise.
    const cv::Mat tophat = given_tophat.empty() ? top_hat(grey8) : given_tophat;
    cv::Mat joined;
    cv::morphologyEx(strokes, joined, cv::MORPH_CLOSE, cv::getStructuringElement(cv::MORPH_RECT, {join, 3}));
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(joined, labels, stats, centroids, 8, CV_32S);
    const cv::Rect frame(0, 0, grey8.cols, grey8.rows);
    for (int i = 1; i < n; ++i) {
        const cv::Rect box(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                           stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
        if (box.height < 6 || box.height > 90 || box.width < 2) continue;
        if (box.width > (max_width > 0 ? max_width : grey8.cols * 0.9)) continue;
        if (box.width < 0.12 * box.height) continue;  // a vertical line, not a glyph
        if (box.height < 10 && box.width > 40 * box.height) continue;  // a horizontal rule
        const double fill = cv::countNonZero(strokes(box)) / static_cast<double>(box.area());
        if (fill < 0.06 || fill > 0.85) continue;
        TextCandidate c;
        const int pad = std::max(2, box.height / 6);
        c.box = cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & frame;
        double median = 0, noise = 0;
        ring_statistics(tophat, c.box, std::max(3, box.height / 3), median, noise);
        const double stroke_mean = cv::mean(tophat(box), strokes(box))[0];
        c.contrast_ratio = (stroke_mean - median) / std::max(noise, 4.0);
        c.ring_noise = noise;
        if (!rgb8.empty()) c.hue_spread = chromaticity_spread(rgb8, strokes, box);
        out.push_back(c);
    }
    return out;
}

}  // namespace deid::pixels
