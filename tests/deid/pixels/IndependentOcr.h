// Test-only OCR that shares nothing with the cleaner's detection: DCMTK renders each frame
// (DicomImage, min-max window), and its own Tesseract engine reads the whole frame several ways
// (grey, contrast-stretched, both enlarged when small) as sparse text.
#pragma once

#include <string>
#include <vector>

class DcmDataset;

namespace pixels_test {

// Per frame: all words read, upper-cased, joined by spaces.
std::vector<std::string> read_frames(DcmDataset& dataset);

// The same pictures plus 101 px local thresholds of bright and of dark strokes, the rendering and
// those two thresholds also turned 90, 180 and 270 degrees, read by the `tesseract` command line (one run for all of them; PNGs and
// the page list are written into `work_dir`): per data set, per frame, the words read.
std::vector<std::vector<std::string>> read_frames_cli(const std::vector<DcmDataset*>& datasets,
                                                      const std::string& work_dir);

// True when `needle` (letters/digits only compared) occurs in `haystack` with at most
// `max_edits` edits (approximate substring match).
bool fuzzy_contains(const std::string& haystack, const std::string& needle, int max_edits = 1);

}  // namespace pixels_test
