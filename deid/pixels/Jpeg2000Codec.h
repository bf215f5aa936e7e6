// JPEG 2000 frames in and out with OpenJPEG (libopenjp2): decodes a codestream (J2K or JP2,
// HTJ2K included: OpenJPEG 2.5 decodes Part 15) into native samples, and encodes native samples
// into a JPEG 2000 Part 1 codestream, reversible (5/3 wavelet, lossless) or irreversible (9/7).
// OpenJPEG 2.5.0 (Debian 12) cannot encode HTJ2K: see docs/pixels.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace deid::pixels {

struct Jpeg2000Frame {
    int rows = 0, columns = 0, samples = 1;
    int bits_allocated = 8;  // 8 or 16: samples are bytes, or 16-bit words in host order
    int bits_stored = 8;
    bool is_signed = false;
};

class Jpeg2000Codec {
public:
    // Decodes `size` bytes into `out` (rows x columns x samples, interleaved by pixel; 8 or 16 bits
    // per sample as `frame.bits_allocated`). Returns an empty string or why it cannot (no PHI).
    static std::string decode(const std::uint8_t* data, std::size_t size, const Jpeg2000Frame& frame,
                              std::uint8_t* out);
    // Encodes one frame (same layout as decode's output) as a J2K codestream. `lossless` picks the
    // reversible transform; otherwise a compression ratio of 10:1. For three samples, the
    // multiple-component transform is used (RCT/ICT: the Photometric Interpretation the caller
    // writes is YBR_RCT / YBR_ICT).
    static std::string encode(const std::uint8_t* in, const Jpeg2000Frame& frame, bool lossless, bool colour_transform,
                              std::vector<std::uint8_t>& out);
};

}  // namespace deid::pixels
