#include "deid/pixels/DisplayImage.h"

#include <opencv2/imgproc.hpp>

namespace deid::pixels {

namespace {

// Stored values as int32 with Bits Stored applied (masking, sign extension).
cv::Mat stored_values(const cv::Mat& grey, const ImageLayout& l) {
    cv::Mat v;
    grey.convertTo(v, CV_32S);
    if (l.bits_stored <= 0 || l.bits_stored >= l.bits_allocated) return v;
    const int mask = (1 << l.bits_stored) - 1;
    const int sign = 1 << (l.bits_stored - 1);
    v.forEach<int>([&](int& x, const int*) {
        x &= mask;
        if (l.pixel_representation && (x & sign)) x -= (1 << l.bits_stored);
    });
    return v;
}

}  // namespace

bool plain_stored_values(const cv::Mat& native, const ImageLayout& l, double lo, double hi) {
    if (native.channels() != 1 || l.photometric == "PALETTE COLOR") return false;
    const bool signed_values = l.pixel_representation != 0;
    if (signed_values != (native.depth() == CV_16S || native.depth() == CV_8S)) return false;
    const int bits = l.bits_stored > 0 && l.bits_stored < l.bits_allocated ? l.bits_stored : 0;
    if (bits == 0) return true;
    return signed_values ? lo >= -(1 << (bits - 1)) && hi < (1 << (bits - 1)) : lo >= 0 && hi < (1 << bits);
}

cv::Mat display_image(const cv::Mat& native, const ImageLayout& l) {
    cv::Mat out;
    if (native.channels() == 1) {
        if (l.photometric == "PALETTE COLOR" && !l.palette.empty()) {
            cv::Mat v = stored_values(native, l);
            out.create(native.size(), CV_8UC1);
            const int n = static_cast<int>(l.palette.size());
            for (int y = 0; y < v.rows; ++y) {
                const int* s = v.ptr<int>(y);
                auto* d = out.ptr<std::uint8_t>(y);
                for (int x = 0; x < v.cols; ++x) {
                    int i = s[x] - l.palette_first;
                    i = i < 0 ? 0 : (i >= n ? n - 1 : i);
                    const auto& rgb = l.palette[i];
                    d[x] = std::max(rgb[0], std::max(rgb[1], rgb[2]));
                }
            }
            return out;
        }
        if (native.depth() == CV_8U && (l.bits_stored == 8 || l.bits_stored == 0)) {
            out = native.clone();
        } else {
            double lo = 0, hi = 0;
            cv::minMaxLoc(native, &lo, &hi);
            // Values already within Bits Stored (the usual case) need no masking: scaled straight
            // from the frame (one pass; the int32 copy and per-pixel masking cost more than the
            // first pass of the screen).
            if (plain_stored_values(native, l, lo, hi)) {
                const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
                native.convertTo(out, CV_8U, scale, -lo * scale);
            } else {
                cv::Mat v = stored_values(native, l);
                cv::minMaxLoc(v, &lo, &hi);
                const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
                v.convertTo(out, CV_8U, scale, -lo * scale);
            }
        }
        if (l.photometric == "MONOCHROME1") cv::bitwise_not(out, out);
        return out;
    }
    cv::Mat eight;
    if (native.depth() == CV_8U) {
        eight = native;
    } else {
        double lo = 0, hi = 0;
        cv::minMaxLoc(native.reshape(1), &lo, &hi);
        const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
        native.convertTo(eight, CV_8U, scale, -lo * scale);
    }
    std::vector<cv::Mat> ch;
    cv::split(eight, ch);
    if (l.photometric.rfind("YBR", 0) == 0) return ch[0].clone();
    cv::max(ch[0], ch[1], out);
    cv::max(out, ch[2], out);
    return out;
}

cv::Mat colour_image(const cv::Mat& native, const ImageLayout& l) {
    cv::Mat out;
    if (native.channels() == 1) {
        if (l.photometric != "PALETTE COLOR" || l.palette.empty()) return out;
        cv::Mat v = stored_values(native, l);
        out.create(native.size(), CV_8UC3);
        const int n = static_cast<int>(l.palette.size());
        for (int y = 0; y < v.rows; ++y) {
            const int* s = v.ptr<int>(y);
            auto* d = out.ptr<cv::Vec3b>(y);
            for (int x = 0; x < v.cols; ++x) {
                int i = s[x] - l.palette_first;
                i = i < 0 ? 0 : (i >= n ? n - 1 : i);
                d[x] = cv::Vec3b(l.palette[i][0], l.palette[i][1], l.palette[i][2]);
            }
        }
        return out;
    }
    if (native.depth() == CV_8U) {
        out = native;
    } else {
        double lo = 0, hi = 0;
        cv::minMaxLoc(native.reshape(1), &lo, &hi);
        const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
        native.convertTo(out, CV_8U, scale, -lo * scale);
    }
    if (l.photometric.rfind("YBR", 0) == 0) {
        std::vector<cv::Mat> ch;
        cv::split(out, ch);  // Y Cb Cr -> OpenCV's Y Cr Cb
        std::swap(ch[1], ch[2]);
        cv::Mat ycrcb, rgb;
        cv::merge(ch, ycrcb);
        cv::cvtColor(ycrcb, rgb, cv::COLOR_YCrCb2RGB);  // not into `out`: it may share the frame's pixels
        return rgb;
    }
    return out;
}

}  // namespace deid::pixels
