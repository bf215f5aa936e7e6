// Pixel Data in and out: decodes an instance to native frames (DCMTK codecs: JPEG, JPEG-LS, RLE;
// OpenJPEG through Jpeg2000Codec: JPEG 2000 and HTJ2K),
// lets the cleaner read and replace frames, and encodes the result back into the instance's own
// transfer syntax. Frames are cv::Mat in stored values: CV_8UC1, CV_16UC1, CV_16SC1 or CV_8UC3
// (samples in stored order, colour-by-pixel even when the file is colour-by-plane; uncompressed
// YBR_FULL_422 expanded to Y Cb Cr per pixel).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

class DcmDataset;
class DcmElement;
class DcmPixelData;

namespace deid::pixels {

struct ImageLayout {
    int rows = 0, columns = 0, samples = 1, frames = 1;
    int bits_allocated = 0, bits_stored = 0, pixel_representation = 0, planar = 0;
    std::string photometric;
    // PALETTE COLOR only: index -> 8-bit RGB (empty when the LUT is not usable).
    std::vector<std::array<std::uint8_t, 3>> palette;
    int palette_first = 0;
};

// Registers the DCMTK decoders and encoders once per process (thread-safe).
void register_codecs();

class FrameCodec {
public:
    explicit FrameCodec(DcmDataset& dataset);
    // `transfer_syntax_uid`: the file meta's (0002,0010), which names syntaxes DCMTK 3.6.7 does
    // not know (HTJ2K); empty = the data set's own.
    FrameCodec(DcmDataset& dataset, std::string transfer_syntax_uid);
    ~FrameCodec();

    // Decodes to native pixels. Returns an empty string or the reason it cannot (no PHI).
    std::string open();
    const ImageLayout& layout() const { return layout_; }
    bool lossy_source() const;  // the original transfer syntax is lossy (JPEG baseline/extended, JPEG-LS near)

    cv::Mat frame(int index) const;                 // a copy
    // Grey frames: the frame's pixels without a copy, read-only, valid until store_frame() or
    // commit() (other layouts: frame()).
    cv::Mat view(int index) const;
    void store_frame(int index, const cv::Mat& m);  // same type and size as frame()

    // Puts the pixels back and returns the instance to its original transfer syntax: re-encoded
    // when `changed`, the untouched original representation otherwise. Empty string = success.
    std::string commit(bool changed);
    std::string transfer_syntax_name() const;
    // After commit(): the transfer syntax the instance is now in when it differs from the
    // original (HTJ2K leaves as JPEG 2000: OpenJPEG 2.5 cannot encode HTJ2K); 0 = unchanged.
    int new_transfer_syntax() const { return new_xfer_; }

private:
    DcmDataset& dataset_;
    ImageLayout layout_;
    int original_xfer_ = 0;  // E_TransferSyntax
    std::vector<std::uint8_t> bytes_;   // 8-bit data, or 16-bit data in host order (as bytes)
    // Uncompressed: the data set's own Pixel Data, read in place until a frame is stored.
    const std::uint8_t* borrowed_ = nullptr;
    const std::uint8_t* pixels() const;
    std::uint8_t* writable_pixels();
    std::size_t frame_bytes_ = 0;
    bool ybr422_ = false;  // uncompressed YBR_FULL_422 (frames expanded to one Y Cb Cr per pixel)
    // Compressed instances: Pixel Data and the Image Pixel attributes (group 0028) as they were
    // before decoding (the decoder may rewrite Photometric Interpretation), put back by
    // commit(false) so an untouched instance leaves exactly as it came.
    std::vector<std::unique_ptr<DcmElement>> saved_;
    // JPEG 2000 family, decoded with OpenJPEG (DCMTK 3.6.7 has no free JPEG 2000 codec).
    std::string meta_xfer_uid_;
    bool jpeg2000_ = false, htj2k_ = false, j2k_lossy_ = false;
    int new_xfer_ = 0;
    std::string open_jpeg2000();
    std::string commit_jpeg2000(bool changed);
    void restore_saved();
    std::string read_layout();  // layout_ from the data set's Image Pixel attributes (scan, then check)
    DcmPixelData* scan_layout();  // layout_'s values and the Pixel Data element, in one walk
    std::string check_layout();   // what this build cannot read in layout_; the palette
};

}  // namespace deid::pixels
