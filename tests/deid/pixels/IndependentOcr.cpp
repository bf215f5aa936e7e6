#include "IndependentOcr.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <opencv2/imgproc.hpp>
#include <tesseract/baseapi.h>

namespace pixels_test {

namespace {

std::string only_alnum(const std::string& s) {
    std::string out;
    for (unsigned char c : s)
        if (std::isalnum(c)) out.push_back(static_cast<char>(std::toupper(c)));
    return out;
}

std::string ocr(tesseract::TessBaseAPI& api, const cv::Mat& grey) {
    api.SetPageSegMode(tesseract::PSM_SPARSE_TEXT);
    api.SetImage(grey.data, grey.cols, grey.rows, 1, static_cast<int>(grey.step));
    std::unique_ptr<char[]> text(api.GetUTF8Text());
    api.Clear();
    std::string s = text ? text.get() : "";
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::vector<std::string> read_frames(DcmDataset& dataset) {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    tesseract::TessBaseAPI api;
    api.SetVariable("debug_file", "/dev/null");
    if (api.Init("/usr/share/tesseract-ocr/5/tessdata", "eng", tesseract::OEM_LSTM_ONLY) != 0)
        throw std::runtime_error("tesseract init");
    std::vector<std::string> out;
    // A decompressed copy: DicomImage's frame-by-frame access cannot decode every compressed
    // syntax (JPEG fails), and the caller's data set stays as it was.
    DcmDataset copy(dataset);
    if (copy.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad())
        throw std::runtime_error("cannot decompress the pixel data");
    DcmDataset& decoded = copy;
    const E_TransferSyntax xfer = EXS_LittleEndianExplicit;
    DicomImage image(&decoded, xfer, 0UL, 0UL, 0UL);
    if (image.getStatus() != EIS_Normal) throw std::runtime_error("DicomImage cannot render the frames");
    const unsigned long frames = image.getFrameCount();
    for (unsigned long f = 0; f < frames; ++f) {
        DicomImage one(&decoded, xfer, 0UL, f, 1UL);
        if (one.isMonochrome()) one.setMinMaxWindow();
        const int w = static_cast<int>(one.getWidth()), h = static_cast<int>(one.getHeight());
        const void* data = one.getOutputData(8);
        if (!data) throw std::runtime_error("DicomImage output");
        cv::Mat grey;
        if (one.isMonochrome()) {
            grey = cv::Mat(h, w, CV_8UC1, const_cast<void*>(data)).clone();
        } else {
            cv::Mat rgb(h, w, CV_8UC3, const_cast<void*>(data));
            cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
        }
        if (std::max(w, h) < 1000) cv::resize(grey, grey, {}, 2.0, 2.0, cv::INTER_CUBIC);
        std::string text = ocr(api, grey);
        // Dim text: stretch the darker half of the range to full scale.
        cv::Mat stretched;
        grey.convertTo(stretched, CV_8U, 4.0, 0);
        text += " " + ocr(api, stretched);
        // Bright strokes against their own neighbourhood, as black on white.
        cv::Mat local;
        cv::adaptiveThreshold(grey, local, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 31, -25);
        text += " " + ocr(api, local);
        out.push_back(text);
    }
    api.End();
    return out;
}

bool fuzzy_contains(const std::string& haystack_in, const std::string& needle_in, int max_edits) {
    const std::string hay = only_alnum(haystack_in), needle = only_alnum(needle_in);
    if (needle.empty()) return true;
    // Sellers' algorithm: edit distance of needle against any substring of hay.
    std::vector<int> prev(needle.size() + 1), cur(needle.size() + 1);
    for (std::size_t i = 0; i <= needle.size(); ++i) prev[i] = static_cast<int>(i);
    int best = prev[needle.size()];
    for (char c : hay) {
        cur[0] = 0;
        for (std::size_t i = 1; i <= needle.size(); ++i)
            cur[i] = std::min({prev[i] + 1, cur[i - 1] + 1, prev[i - 1] + (needle[i - 1] == c ? 0 : 1)});
        best = std::min(best, cur[needle.size()]);
        std::swap(prev, cur);
    }
    return best <= max_edits;
}

}  // namespace pixels_test
