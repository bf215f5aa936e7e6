#include "deid/pixels/RegionFiller.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

namespace deid::pixels {

namespace {

template <typename T, int N>
cv::Scalar ring_value(const cv::Mat& m, const cv::Rect& box, bool indexed) {
    using Px = cv::Vec<T, N>;
    const cv::Rect frame(0, 0, m.cols, m.rows);
    const int pad = 3;
    const cv::Rect outer = cv::Rect(box.x - pad, box.y - pad, box.width + 2 * pad, box.height + 2 * pad) & frame;
    std::vector<Px> ring;
    for (int y = outer.y; y < outer.y + outer.height; ++y)
        for (int x = outer.x; x < outer.x + outer.width; ++x)
            if (!box.contains(cv::Point(x, y))) ring.push_back(m.at<Px>(y, x));
    if (ring.empty()) return cv::Scalar::all(0);
    std::unordered_map<std::uint64_t, int> counts;
    std::uint64_t best_key = 0;
    int best = 0;
    for (const Px& p : ring) {
        std::uint64_t key = 0;
        for (int c = 0; c < N; ++c) key = (key << 16) | static_cast<std::uint16_t>(p[c]);
        const int n = ++counts[key];
        if (n > best) best = n, best_key = key;
    }
    cv::Scalar out;
    if (indexed || best * 2 >= static_cast<int>(ring.size())) {
        for (int c = N - 1; c >= 0; --c) {
            out[c] = static_cast<T>(static_cast<std::uint16_t>(best_key & 0xffff));
            best_key >>= 16;
        }
        return out;
    }
    for (int c = 0; c < N; ++c) {
        std::vector<T> v(ring.size());
        for (std::size_t i = 0; i < ring.size(); ++i) v[i] = ring[i][c];
        std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
        out[c] = v[v.size() / 2];
    }
    return out;
}

}  // namespace

void RegionFiller::fill_background(cv::Mat& native, const cv::Rect& box_in, bool indexed_colour) {
    const cv::Rect box = box_in & cv::Rect(0, 0, native.cols, native.rows);
    if (box.empty()) return;
    cv::Scalar v;
    switch (native.type()) {
        case CV_8UC1: v = ring_value<std::uint8_t, 1>(native, box, indexed_colour); break;
        case CV_8UC3: v = ring_value<std::uint8_t, 3>(native, box, indexed_colour); break;
        case CV_16UC1: v = ring_value<std::uint16_t, 1>(native, box, indexed_colour); break;
        case CV_16UC3: v = ring_value<std::uint16_t, 3>(native, box, indexed_colour); break;
        case CV_16SC1: v = ring_value<std::int16_t, 1>(native, box, indexed_colour); break;
        case CV_16SC3: v = ring_value<std::int16_t, 3>(native, box, indexed_colour); break;
        default: CV_Error(cv::Error::StsUnsupportedFormat, "unsupported frame type");
    }
    native(box).setTo(v);
}

void RegionFiller::inpaint(cv::Mat& native, const cv::Rect& box_in, const cv::Mat& strokes) {
    const cv::Rect frame(0, 0, native.cols, native.rows);
    const cv::Rect box = box_in & frame;
    if (box.empty()) return;
    const int t = native.type();
    if (t != CV_8UC1 && t != CV_8UC3 && t != CV_16UC1 && t != CV_16SC1) {
        fill_background(native, box, false);
        return;
    }
    const int margin = 8;
    const cv::Rect roi = cv::Rect(box.x - margin, box.y - margin, box.width + 2 * margin, box.height + 2 * margin) & frame;
    cv::Mat mask = cv::Mat::zeros(roi.size(), CV_8UC1);
    const cv::Rect inner(box.x - roi.x, box.y - roi.y, box.width, box.height);
    cv::Mat m = strokes(box).clone();
    cv::dilate(m, m, cv::getStructuringElement(cv::MORPH_RECT, {7, 7}));
    m.copyTo(mask(inner));
    cv::Mat src = native(roi), out;
    if (t == CV_16SC1) {
        cv::Mat f;
        src.convertTo(f, CV_32F);
        cv::inpaint(f, mask, f, 3, cv::INPAINT_TELEA);
        f.convertTo(out, CV_16S);
    } else {
        cv::inpaint(src, mask, out, 3, cv::INPAINT_TELEA);
    }
    out.copyTo(src, mask);  // only stroke pixels inside the box change
}

}  // namespace deid::pixels
