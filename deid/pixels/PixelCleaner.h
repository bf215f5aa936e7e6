// Burned-in text: decide whether an instance's pixels need cleaning, find text (OpenCV +
// Tesseract), remove it, and read again to prove it is gone. Config keys under `pixels`.
#pragma once

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
};

struct PixelReport {
    bool examined = false;   // the instance was in scope (Burned In Annotation YES, text-prone, region template)
    int regions_cleaned = 0; // text boxes and template rectangles filled
    int regions_read = 0;    // candidate regions given to OCR (for the gateway's metrics)
    std::string failure;     // empty = success; otherwise why (no PHI): the instance is quarantined
    std::vector<CleanedRegion> regions;  // what was filled (regions.size() == regions_cleaned)
    int frames = 0;                      // frames examined
    bool reencoded = false;              // pixel data changed and was encoded again in its transfer syntax
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
    PixelReport clean(DcmFileFormat& file);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace deid::pixels
