// One Tesseract engine per thread ("eng", LSTM), initialised on first use in that thread.
// Reads 8-bit grey images (dark text on light background works best; callers binarise).
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace deid::pixels {

struct OcrWord {
    std::string text;
    float confidence = 0;  // 0..100 as reported by Tesseract
    cv::Rect box;          // in the coordinates of the image given to read()
};

struct OcrResult {
    std::vector<OcrWord> words;
    bool ok = true;  // false: the engine could not be initialised
};

enum class OcrLayout { single_line, block, sparse };

class OcrEngine {
public:
    // The calling thread's engine; throws std::runtime_error when Tesseract cannot start.
    static OcrEngine& for_this_thread();
    OcrResult read(const cv::Mat& grey8, OcrLayout layout);

    OcrEngine(const OcrEngine&) = delete;
    OcrEngine& operator=(const OcrEngine&) = delete;
    ~OcrEngine();

private:
    OcrEngine();
    struct Impl;
    Impl* impl_;
};

// Number of ASCII letters and digits in `s`.
int count_alnum(const std::string& s);

}  // namespace deid::pixels
