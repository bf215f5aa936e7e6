#include "IndependentOcr.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <fstream>
#include <stdexcept>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <opencv2/imgcodecs.hpp>
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

// Per frame, the pictures the OCR reads: DCMTK's rendering (min-max window), enlarged when small;
// the same stretched (dim text); bright strokes against their neighbourhood as black on white.
std::vector<std::vector<cv::Mat>> views_of(DcmDataset& dataset) {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    std::vector<std::vector<cv::Mat>> out;
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
        // Dim text: stretch the darker half of the range to full scale.
        cv::Mat stretched;
        grey.convertTo(stretched, CV_8U, 4.0, 0);
        // Bright strokes against their own neighbourhood, as black on white.
        cv::Mat local;
        cv::adaptiveThreshold(grey, local, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 31, -25);
        out.push_back({grey, stretched, local});
    }
    return out;
}

}  // namespace

std::vector<std::string> read_frames(DcmDataset& dataset) {
    tesseract::TessBaseAPI api;
    api.SetVariable("debug_file", "/dev/null");
    if (api.Init("/usr/share/tesseract-ocr/5/tessdata", "eng", tesseract::OEM_LSTM_ONLY) != 0)
        throw std::runtime_error("tesseract init");
    std::vector<std::string> out;
    for (const std::vector<cv::Mat>& views : views_of(dataset)) {
        std::string text;
        for (const cv::Mat& v : views) text += " " + ocr(api, v);
        out.push_back(text);
    }
    api.End();
    return out;
}

constexpr int kViewsPerFrame = 14;  // views_of()'s three, wide-neighbourhood bright and dark ones, three of them turned 90, 180 and 270 degrees

std::vector<std::vector<std::string>> read_frames_cli(const std::vector<DcmDataset*>& datasets,
                                                      const std::string& work_dir) {
    // Every view of every frame becomes a PNG; two `tesseract LIST OUT tsv` runs (one per core)
    // read them, one page each (the TSV names each word's page).
    std::vector<std::vector<int>> pages_of(datasets.size());
    std::vector<std::string> pngs;
    for (std::size_t d = 0; d < datasets.size(); ++d)
        for (std::vector<cv::Mat> views : views_of(*datasets[d])) {
            // Large text on mid-grey anatomy: the neighbourhood of the third view is too small for
            // its strokes (they come out hollow), so the same with a 101 px neighbourhood too.
            cv::Mat wide;
            cv::adaptiveThreshold(views[0], wide, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 101, -25);
            views.push_back(wide);
            // Dark text (on bright radiographs): dark strokes against their neighbourhood, the same way.
            cv::Mat dark;
            cv::adaptiveThreshold(255 - views[0], dark, 255, cv::ADAPTIVE_THRESH_MEAN_C, cv::THRESH_BINARY_INV, 101, -25);
            views.push_back(dark);
            // Text turned 90, 180 or 270 degrees: an attacker turns the image, so the rendering and
            // the two binarisations are read turned each way too.
            for (std::size_t v = 0, n = views.size(); v < n; ++v) {
                if (v == 1 || v == 2) continue;  // the stretched rendering (dim text) and the 31 px threshold: upright only
                for (const auto turn : {cv::ROTATE_90_CLOCKWISE, cv::ROTATE_180, cv::ROTATE_90_COUNTERCLOCKWISE}) {
                    cv::Mat t;
                    cv::rotate(views[v], t, turn);
                    views.push_back(t);
                }
            }
            pages_of[d].push_back(static_cast<int>(pngs.size()));
            for (const cv::Mat& v : views) {
                const std::string png = work_dir + "/page" + std::to_string(pngs.size()) + ".png";
                if (!cv::imwrite(png, v)) throw std::runtime_error("cannot write " + png);
                pngs.push_back(png);
            }
        }
    const int frames = static_cast<int>(pngs.size()) / kViewsPerFrame;
    const int split = (frames + 1) / 2 * kViewsPerFrame;  // whole frames in each half
    std::string command;
    for (int part = 0; part < 2; ++part) {
        std::ofstream list(work_dir + "/pages" + std::to_string(part) + ".txt");
        for (int p = part ? split : 0; p < (part ? static_cast<int>(pngs.size()) : split); ++p) list << pngs[p] << "\n";
        command += "(OMP_THREAD_LIMIT=1 timeout 600 tesseract " + work_dir + "/pages" + std::to_string(part) + ".txt " + work_dir + "/read" +
                   std::to_string(part) + " --psm 11 -l eng tsv >/dev/null 2>&1) & ";
    }
    command += "wait";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot run tesseract");
    // TSV: level, page_num, block, paragraph, line, word, left, top, width, height, conf, text.
    std::vector<std::string> pages(pngs.size());
    for (int part = 0; part < 2; ++part) {
        std::ifstream in(work_dir + "/read" + std::to_string(part) + ".tsv");
        if (!in) throw std::runtime_error("tesseract wrote no output");
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::vector<std::string> f;
            std::size_t start = 0;
            for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
                f.push_back(line.substr(start, tab - start));
            f.push_back(line.substr(start));
            if (f.size() < 12 || f[0] != "5") continue;
            const std::size_t page = static_cast<std::size_t>(std::atoi(f[1].c_str()) - 1 + (part ? split : 0));
            if (page >= pages.size()) continue;
            for (char c : f[11]) pages[page].push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
            pages[page].push_back(' ');
        }
    }
    std::vector<std::vector<std::string>> out(datasets.size());
    for (std::size_t d = 0; d < datasets.size(); ++d)
        for (int first : pages_of[d]) {
            std::string text;
            for (int p = first; p < first + kViewsPerFrame; ++p) text += " " + pages[p];
            out[d].push_back(text);
        }
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
