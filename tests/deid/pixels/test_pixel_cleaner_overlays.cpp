// Overlay planes and embedded images (docs/pixels.md, "Overlays and icons"): text in Overlay
// Data is cleared bit-wise and verified, overlays that cannot be cleaned are removed, overlays
// in unused high bits of Pixel Data have their bits cleared, and the verification pass alone
// (nothing cleaned) catches an overlay or a frame with readable text.
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <opencv2/imgproc.hpp>
#include <tesseract/baseapi.h>

#include "deid/InstanceDeidentifier.h"
#include "deid/pixels/FrameCodec.h"
#include "FontRenderer.h"
#include "IndependentOcr.h"
#include "PlantedCorpus.h"
#include "tests/support/MemoryPseudonymSource.h"
#include "tests/support/Process.h"

using namespace deid::pixels;

namespace {

const char* kFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

// The test's own reading of an overlay plane: bits unpacked here (not by the cleaner's code),
// rendered black on white, enlarged, read by its own Tesseract engine.
std::string read_overlay(DcmDataset& ds, Uint16 group, int rows, int columns) {
    DcmElement* el = nullptr;
    if (ds.findAndGetElement(DcmTagKey(group, 0x3000), el).bad() || !el) return {};
    Uint16* words = nullptr;
    if (el->getUint16Array(words).bad() || !words) return {};
    cv::Mat m(rows, columns, CV_8UC1, cv::Scalar(255));
    for (int i = 0; i < rows * columns; ++i)
        if ((words[i / 16] >> (i % 16)) & 1) m.at<std::uint8_t>(i / columns, i % columns) = 0;
    cv::resize(m, m, {}, 2, 2, cv::INTER_NEAREST);
    tesseract::TessBaseAPI api;
    api.SetVariable("debug_file", "/dev/null");
    REQUIRE(api.Init("/usr/share/tesseract-ocr/5/tessdata", "eng", tesseract::OEM_LSTM_ONLY) == 0);
    api.SetPageSegMode(tesseract::PSM_SPARSE_TEXT);
    api.SetImage(m.data, m.cols, m.rows, 1, static_cast<int>(m.step));
    std::unique_ptr<char[]> text(api.GetUTF8Text());
    api.End();
    return text ? text.get() : "";
}

// A CT-like instance (16-bit, 12 stored) of `rows` x `columns` with an overlay plane in group
// 6000 whose bits spell `lines` (one line each) and hold a rectangle (an ROI graphic).
std::unique_ptr<DcmFileFormat> ct_with_overlay(const std::vector<std::string>& lines, int rows, int columns) {
    pixels_test::PlantedCase c;
    c.modality = "CT";
    cv::Mat frame(rows, columns, CV_16UC1, cv::Scalar(300));
    cv::circle(frame, {columns / 2, rows / 2}, rows / 3, cv::Scalar(1200), cv::FILLED);
    c.frames.push_back(frame);
    auto file = pixels_test::planted_instance(c);
    cv::Mat bits = cv::Mat::zeros(rows, columns, CV_8UC1);
    int y = 20;
    for (const std::string& line : lines) {
        const cv::Mat t = pixels_test::FontRenderer::render(kFont, line, 22);
        REQUIRE_FALSE(t.empty());
        bits(cv::Rect(20, y, t.cols, t.rows)).setTo(255, t >= 128);
        y += t.rows + 10;
    }
    cv::rectangle(bits, {columns / 2 - 60, rows / 2 - 40}, {columns / 2 + 60, rows / 2 + 40}, cv::Scalar(255), 1);
    std::vector<Uint16> words((rows * columns + 15) / 16, 0);
    for (int i = 0; i < rows * columns; ++i)
        if (bits.at<std::uint8_t>(i / columns, i % columns)) words[i / 16] |= static_cast<Uint16>(1u << (i % 16));
    DcmDataset& ds = *file->getDataset();
    ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0010), static_cast<Uint16>(rows));
    ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0011), static_cast<Uint16>(columns));
    ds.putAndInsertString(DcmTagKey(0x6000, 0x0040), "G");
    const Sint16 origin[2] = {1, 1};
    ds.putAndInsertSint16Array(DcmTagKey(0x6000, 0x0050), origin, 2);
    ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0100), 1);
    ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0102), 0);
    ds.putAndInsertUint16Array(DcmTagKey(0x6000, 0x3000), words.data(), static_cast<unsigned long>(words.size()));
    return file;
}

int overlay_bits(DcmDataset& ds, int rows, int columns) {
    DcmElement* el = nullptr;
    if (ds.findAndGetElement(DcmTagKey(0x6000, 0x3000), el).bad() || !el) return -1;
    Uint16* words = nullptr;
    el->getUint16Array(words);
    int n = 0;
    for (int i = 0; i < rows * columns; ++i) n += (words[i / 16] >> (i % 16)) & 1;
    return n;
}

}  // namespace

TEST_CASE("text in an overlay plane is cleared bit-wise, the ROI graphic stays, verification alone catches it") {
    auto file = ct_with_overlay({"DOE JOHN", "MRN 4471823"}, 320, 320);
    DcmDataset& ds = *file->getDataset();
    const std::string before = read_overlay(ds, 0x6000, 320, 320);
    INFO("read before: " << before);
    REQUIRE(pixels_test::fuzzy_contains(before, "DOE JOHN"));
    REQUIRE(pixels_test::fuzzy_contains(before, "MRN 4471823"));
    const int bits_before = overlay_bits(ds, 320, 320);

    PixelCleaner cleaner(config::Pixels{});
    // The verification pass with cleaning disabled: the readable overlay is a defect.
    const std::string defect = cleaner.find_readable_text(*file);
    CHECK(defect.find("overlay 1") != std::string::npos);
    CHECK(overlay_bits(ds, 320, 320) == bits_before);  // it changed nothing

    const PixelReport r = cleaner.clean(*file);
    INFO(r.failure);
    REQUIRE(r.failure.empty());
    CHECK(r.overlays_examined == 1);
    CHECK(r.overlays_cleaned == 1);
    const std::string after = read_overlay(ds, 0x6000, 320, 320);
    INFO("read after: " << after);
    CHECK_FALSE(pixels_test::fuzzy_contains(after, "DOE JOHN"));
    CHECK_FALSE(pixels_test::fuzzy_contains(after, "4471823"));
    // The ROI rectangle (4 x 120 x 80 outline, about 400 bits) is kept: only text boxes were cleared.
    const int bits_after = overlay_bits(ds, 320, 320);
    for (const CleanedRegion& g : r.regions) UNSCOPED_INFO("cleaned " << g.x << "," << g.y << " " << g.width << "x" << g.height);
    CHECK(bits_after >= 380);
    CHECK(bits_after < bits_before);
    for (const CleanedRegion& g : r.regions) CHECK(g.overlay_group == 0x6000);
    CHECK(cleaner.find_readable_text(*file).empty());
}

TEST_CASE("an overlay that cannot be read is removed, an overlay in unused high bits of Pixel Data is cleared") {
    SECTION("Overlay Bits Allocated 8 with Overlay Data: removed") {
        auto file = ct_with_overlay({"DOE JOHN"}, 256, 256);
        DcmDataset& ds = *file->getDataset();
        ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0100), 8);
        const PixelReport r = PixelCleaner(config::Pixels{}).clean(*file);
        REQUIRE(r.failure.empty());
        CHECK(r.overlays_removed == 1);
        CHECK_FALSE(ds.tagExists(DcmTagKey(0x6000, 0x3000)));
        CHECK_FALSE(ds.tagExists(DcmTagKey(0x6000, 0x0010)));
    }
    SECTION("overlay in bit 15 of 12-bit pixels: bits cleared, group removed, image values kept") {
        pixels_test::PlantedCase c;
        c.modality = "CT";
        cv::Mat frame(128, 128, CV_16UC1, cv::Scalar(700));
        const cv::Mat t = pixels_test::FontRenderer::render(kFont, "DOE", 20);
        cv::Mat overlay = cv::Mat::zeros(frame.size(), CV_16UC1);
        overlay(cv::Rect(10, 10, t.cols, t.rows)).setTo(0x8000, t >= 128);
        c.frames.push_back(frame | overlay);
        auto file = pixels_test::planted_instance(c);
        DcmDataset& ds = *file->getDataset();
        ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0010), 128);
        ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0011), 128);
        ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0100), 16);
        ds.putAndInsertUint16(DcmTagKey(0x6000, 0x0102), 15);
        const PixelReport r = PixelCleaner(config::Pixels{}).clean(*file);
        REQUIRE(r.failure.empty());
        CHECK(r.overlays_removed == 1);
        CHECK_FALSE(ds.tagExists(DcmTagKey(0x6000, 0x0010)));
        FrameCodec codec(ds);
        REQUIRE(codec.open().empty());
        const cv::Mat after = codec.frame(0);
        double lo = 0, hi = 0;
        cv::minMaxLoc(after, &lo, &hi);
        CHECK(lo == 700);
        CHECK(hi == 700);
    }
}

TEST_CASE("the verification pass alone catches planted text in an image that was not cleaned") {
    const auto cases = pixels_test::planted_cases(DEID_TEST_DATA, false);
    PixelCleaner cleaner(config::Pixels{});
    for (const auto& c : cases) {
        if (c.modality != "CT" && c.modality != "SC") continue;
        DYNAMIC_SECTION(c.modality) {
            auto file = pixels_test::planted_instance(c);
            INFO(c.name);
            CHECK_FALSE(cleaner.find_readable_text(*file).empty());  // cleaning disabled: a defect
            const PixelReport r = cleaner.clean(*file);
            REQUIRE(r.failure.empty());
            CHECK(cleaner.find_readable_text(*file).empty());
        }
    }
}

TEST_CASE("through the pipeline: Icon Image Sequence removed, overlay kept and cleaned, codes say what was done") {
    testsupport::TempDir tmp;
    const std::string in = std::string(DEID_TEST_DATA) + "/pixels/MR-SIEMENS-DICOM-WithOverlays.dcm";
    testsupport::MemoryPseudonymSource src;
    deid::InstanceDeidentifier deidentifier(config::parse("{}", tmp.path()), src);  // default profile: clean_graphics, clean_pixel_data
    const deid::Outcome o = deidentifier.process_file(in, tmp / "out.dcm", "TEST");
    INFO(o.detail);
    REQUIRE(o.kind == deid::Outcome::Kind::Clean);
    DcmFileFormat out;
    REQUIRE(out.loadFile((tmp / "out.dcm").c_str()).good());
    DcmDataset& ds = *out.getDataset();
    CHECK_FALSE(ds.tagExists(DCM_IconImageSequence));          // PS3.15 X: embedded image removed
    CHECK(ds.tagExists(DcmTagKey(0x6000, 0x3000)));            // Clean Graphics keeps the overlay ...
    PixelCleaner cleaner(config::Pixels{});
    CHECK(cleaner.find_readable_text(out).empty());            // ... with no readable text left
    std::vector<std::string> codes;
    DcmSequenceOfItems* seq = nullptr;
    REQUIRE(ds.findAndGetSequence(DCM_DeidentificationMethodCodeSequence, seq).good());
    for (unsigned long i = 0; i < seq->card(); ++i) {
        OFString v;
        seq->getItem(i)->findAndGetOFString(DCM_CodeValue, v);
        codes.push_back(v.c_str());
    }
    CHECK(std::find(codes.begin(), codes.end(), "113101") != codes.end());
    CHECK(std::find(codes.begin(), codes.end(), "113103") != codes.end());
    OFString burned;
    ds.findAndGetOFString(DCM_BurnedInAnnotation, burned);
    CHECK(burned == "NO");
}
