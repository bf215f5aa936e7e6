// Overlay planes (PS3.3 C.9.2, groups 60xx): Overlay Data (60xx,3000) read into one 8-bit picture
// per overlay frame (255 = bit set) and written back bit-wise; overlays held in unused high bits
// of Pixel Data (retired, PS3.5 before 2004: Overlay Bit Position above High Bit) found so their
// bits can be cleared. Used by PixelCleaner under the Clean Graphics option (docs/pixels.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

class DcmDataset;

namespace deid::pixels {

struct OverlayPlane {
    std::uint16_t group = 0;   // 0x6000, 0x6002, ... 0x601E
    int rows = 0, columns = 0, frames = 1;
    std::vector<cv::Mat> pictures;  // CV_8UC1, 0 or 255, one per overlay frame
};

class OverlayPlanes {
public:
    // The groups present are found once, on first use: an OverlayPlanes is valid while no other
    // code adds or removes 60xx groups of `dataset`.
    explicit OverlayPlanes(DcmDataset& dataset) : dataset_(dataset) {}

    // Overlay planes with their own Overlay Data, readable: one bit per pixel, sizes consistent.
    std::vector<OverlayPlane> read();
    // Groups whose overlay cannot be read (inconsistent, or Overlay Bits Allocated != 1 with data).
    std::vector<std::uint16_t> unreadable() const { return unreadable_; }
    // Groups whose overlay lives in the bits of Pixel Data: the bit positions to clear.
    std::vector<std::pair<std::uint16_t, int>> embedded();

    // Writes the plane's pictures back into its Overlay Data (bit set where picture != 0).
    std::string write(const OverlayPlane& plane);
    // Deletes every attribute of the group (an overlay that is not kept).
    void remove(std::uint16_t group);

private:
    // The repeating groups 6000-601E present in the data set (one walk over its top level, the
    // first time only: read(), embedded() and remove() of one OverlayPlanes share it; an instance
    // without overlays costs no look-ups per group).
    const std::vector<std::uint16_t>& groups();
    DcmDataset& dataset_;
    std::vector<std::uint16_t> unreadable_;
    std::vector<std::uint16_t> groups_;
    bool walked_ = false;
};

}  // namespace deid::pixels
