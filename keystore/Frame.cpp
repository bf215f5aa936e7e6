#include "keystore/Frame.h"

namespace keystore {

std::string frame_header(std::uint32_t size) {
    std::string h(4, '\0');
    h[0] = static_cast<char>((size >> 24) & 0xff);
    h[1] = static_cast<char>((size >> 16) & 0xff);
    h[2] = static_cast<char>((size >> 8) & 0xff);
    h[3] = static_cast<char>(size & 0xff);
    return h;
}

std::uint32_t frame_length(const unsigned char header[4]) {
    return (std::uint32_t(header[0]) << 24) | (std::uint32_t(header[1]) << 16) | (std::uint32_t(header[2]) << 8) |
           std::uint32_t(header[3]);
}

std::string frame(const std::string& body) { return frame_header(static_cast<std::uint32_t>(body.size())) + body; }

}  // namespace keystore
