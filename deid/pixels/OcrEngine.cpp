#include "deid/pixels/OcrEngine.h"

#include <cctype>
#include <memory>
#include <stdexcept>

#include <omp.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

namespace deid::pixels {

namespace {
const char* tessdata_dir() { return "/usr/share/tesseract-ocr/5/tessdata"; }
}  // namespace

struct OcrEngine::Impl {
    tesseract::TessBaseAPI api;
};

OcrEngine::OcrEngine() : impl_(new Impl) {
    // Tesseract's LSTM runs OpenMP parallel regions with fixed thread counts; with one engine per
    // worker thread they only add spinning and context switches (measured: US throughput x3
    // without them). The setting is per thread (OpenMP 5 data-environment ICV): parallel regions
    // started by this thread, which owns this engine, run on this thread alone.
    omp_set_max_active_levels(0);
    // Silence Tesseract's own messages ("Estimating resolution ...") before Init.
    impl_->api.SetVariable("debug_file", "/dev/null");
    if (impl_->api.Init(tessdata_dir(), "eng", tesseract::OEM_LSTM_ONLY) != 0) {
        delete impl_;
        impl_ = nullptr;
        throw std::runtime_error("Tesseract could not load the 'eng' language data");
    }
    impl_->api.SetVariable("user_defined_dpi", "300");
}

OcrEngine::~OcrEngine() {
    if (impl_) impl_->api.End();
    delete impl_;
}

OcrEngine& OcrEngine::for_this_thread() {
    thread_local std::unique_ptr<OcrEngine> engine(new OcrEngine);
    return *engine;
}

OcrResult OcrEngine::read(const cv::Mat& grey8, OcrLayout layout) {
    OcrResult out;
    CV_Assert(grey8.type() == CV_8UC1);
    if (grey8.empty()) return out;
    cv::Mat img = grey8.isContinuous() ? grey8 : grey8.clone();
    tesseract::TessBaseAPI& api = impl_->api;
    switch (layout) {
        case OcrLayout::single_line: api.SetPageSegMode(tesseract::PSM_SINGLE_LINE); break;
        case OcrLayout::block: api.SetPageSegMode(tesseract::PSM_SINGLE_BLOCK); break;
        case OcrLayout::sparse: api.SetPageSegMode(tesseract::PSM_SPARSE_TEXT); break;
    }
    api.SetImage(img.data, img.cols, img.rows, 1, static_cast<int>(img.step));
    if (api.Recognize(nullptr) != 0) {
        api.Clear();
        return out;
    }
    std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
    if (it) {
        do {
            std::unique_ptr<char[]> word(it->GetUTF8Text(tesseract::RIL_WORD));
            if (!word) continue;
            OcrWord w;
            w.text = word.get();
            w.confidence = it->Confidence(tesseract::RIL_WORD);
            int x1, y1, x2, y2;
            if (it->BoundingBox(tesseract::RIL_WORD, &x1, &y1, &x2, &y2)) w.box = cv::Rect(x1, y1, x2 - x1, y2 - y1);
            out.words.push_back(std::move(w));
        } while (it->Next(tesseract::RIL_WORD));
    }
    api.Clear();
    return out;
}

int count_alnum(const std::string& s) {
    int n = 0;
    for (unsigned char c : s)
        if (std::isalnum(c)) ++n;
    return n;
}

}  // namespace deid::pixels
