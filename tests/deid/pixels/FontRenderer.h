// Test-only: renders a line of text in a TrueType font from a Debian font package
// (fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf) with FreeType into an 8-bit
// coverage mask (255 = fully inked), for the planted-text corpus.
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace pixels_test {

class FontRenderer {
public:
    // `path`: a .ttf file; `pixel_height`: the em size in pixels (capitals are ~0.7 of it).
    // An empty Mat when the font cannot be loaded.
    static cv::Mat render(const std::string& path, const std::string& text, int pixel_height);
};

}  // namespace pixels_test
