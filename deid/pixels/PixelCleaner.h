// Burned-in text: decide whether an instance's pixels need cleaning, find text (OpenCV +
// Tesseract), remove it, and read again to prove it is gone. Config keys under `pixels`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/Config.h"

class DcmFileFormat;

namespace deid::pixels {

// One cleaned rectangle, in pixel coordinates of one frame (0-based).
struct CleanedRegion {
    int frame = 0;
    int x = 0, y = 0, width = 0, height = 0;
    bool from_template = false;
    std::uint16_t overlay_group = 0;  // 0x6000..0x601E: in that overlay plane (frame = overlay frame); 0 = the image
};

struct PixelReport {
    bool examined = false;   // the instance was in scope (Burned In Annotation YES, text-prone, region template)
    int regions_cleaned = 0; // text boxes and template rectangles filled
    int regions_read = 0;    // candidate regions given to OCR (for the gateway's metrics)
    std::string failure;     // empty = success; otherwise why (no PHI): the instance is quarantined
    std::vector<CleanedRegion> regions;  // what was filled (regions.size() == regions_cleaned)
    int frames = 0;                      // frames examined
    bool reencoded = false;              // pixel data changed and was encoded again
    // Set when the pixel data left its transfer syntax (HTJ2K is re-encoded as JPEG 2000): the
    // instance must be written in this one. Empty = unchanged.
    std::string transfer_syntax_uid;
    int overlays_examined = 0;  // overlay planes (60xx,3000) searched for text
    int overlays_cleaned = 0;   // ... of which text bits were cleared
    int overlays_removed = 0;   // overlay groups deleted (unreadable, or held in Pixel Data bits)
};

class PixelCleaner {
public:
    explicit PixelCleaner(const config::Pixels& config);
    ~PixelCleaner();
    PixelCleaner(const PixelCleaner&) = delete;
    PixelCleaner& operator=(const PixelCleaner&) = delete;

    // Cleans the pixel data of `file` in place, keeping its transfer syntax (see docs/pixels.md).
    // Afterwards Burned In Annotation (0028,0301) = NO when anything was examined.
    // Thread-safe: each calling thread gets its own OCR engine.
    // Also cleans the overlay planes the profile kept (see clean_overlays).
    PixelReport clean(DcmFileFormat& file);
    // Overlay planes only (Clean Graphics without Clean Pixel Data): text in Overlay Data is
    // cleared bit-wise and verified; overlays that cannot be read, or that live in Pixel Data
    // bits, are removed. Pixel Data is not touched.
    PixelReport clean_overlays(DcmFileFormat& file);

    // The verification pass alone, nothing cleaned: reads every frame and overlay plane of `file`
    // as clean() reads them after cleaning. Returns why the instance would fail ("text still
    // readable ...", no PHI), or empty. `file` is left as it was.
    std::string find_readable_text(DcmFileFormat& file);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace deid::pixels
