// Test-only generator of the planted-text corpus (docs/pixels.md, "Evidence"): names, ids and
// dates burned into CR, DX, MG, CT, MR, NM, OP, US, SC and XA images -- real anatomy from
// tests/data/corpus where the repository has it, synthetic otherwise -- in TrueType fonts from
// Debian packages (FreeType) and OpenCV's Hershey fonts, 10-40 px, grey, coloured over colour,
// rotated 90/270, in some frames of a multi-frame instance only. Each case carries its answer key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

class DcmFileFormat;

namespace pixels_test {

struct PlantedString {
    int frame = 0;
    cv::Rect box;        // bounding box of the text pixels
    std::string text;    // what it says
    cv::Mat mask;        // frame-size mask of the pixels the text set (coverage >= 50 %)
    int rotation = 0;    // 0, 90 or 270 degrees
};

struct PlantedCase {
    std::string name;      // e.g. "CT real anatomy, DejaVuSans 14 px"
    std::string modality;  // CR, DX, MG, CT, MR, NM, OP, US, SC, XA
    std::vector<cv::Mat> frames;  // CV_8UC1, CV_16UC1 (12 bits stored) or CV_8UC3 (RGB)
    std::vector<PlantedString> key;
};

// The cases; `data_dir` is DEID_TEST_DATA (real anatomy backgrounds). `large` adds more
// variations (bench/ only).
std::vector<PlantedCase> planted_cases(const std::string& data_dir, bool large);

// An uncompressed instance of the case with its modality's SOP class.
std::unique_ptr<DcmFileFormat> planted_instance(const PlantedCase& c);

}  // namespace pixels_test
