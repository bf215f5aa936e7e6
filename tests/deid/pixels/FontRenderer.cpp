#include "FontRenderer.h"

#include <algorithm>

#include <ft2build.h>
#include FT_FREETYPE_H

namespace pixels_test {

cv::Mat FontRenderer::render(const std::string& path, const std::string& text, int pixel_height) {
    FT_Library lib = nullptr;
    if (FT_Init_FreeType(&lib)) return {};
    FT_Face face = nullptr;
    if (FT_New_Face(lib, path.c_str(), 0, &face)) {
        FT_Done_FreeType(lib);
        return {};
    }
    FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(pixel_height));
    const int ascender = static_cast<int>(face->size->metrics.ascender >> 6);
    const int descender = static_cast<int>(-(face->size->metrics.descender >> 6));
    // First pass: width.
    int width = 0;
    for (unsigned char ch : text) {
        if (FT_Load_Char(face, ch, FT_LOAD_DEFAULT)) continue;
        width += static_cast<int>(face->glyph->advance.x >> 6);
    }
    const int pad = 2;
    cv::Mat out = cv::Mat::zeros(ascender + descender + 2 * pad, width + 2 * pad, CV_8UC1);
    int pen = pad;
    for (unsigned char ch : text) {
        if (FT_Load_Char(face, ch, FT_LOAD_RENDER)) continue;
        const FT_GlyphSlot g = face->glyph;
        const FT_Bitmap& bm = g->bitmap;
        const int top = pad + ascender - g->bitmap_top;
        for (unsigned r = 0; r < bm.rows; ++r)
            for (unsigned c = 0; c < bm.width; ++c) {
                const int y = top + static_cast<int>(r), x = pen + g->bitmap_left + static_cast<int>(c);
                if (y < 0 || x < 0 || y >= out.rows || x >= out.cols) continue;
                std::uint8_t& px = out.at<std::uint8_t>(y, x);
                px = std::max(px, bm.buffer[r * bm.pitch + c]);
            }
        pen += static_cast<int>(g->advance.x >> 6);
    }
    FT_Done_Face(face);
    FT_Done_FreeType(lib);
    return out;
}

}  // namespace pixels_test
