// JPEG 2000 and HTJ2K through OpenJPEG (docs/pixels.md, "Transfer syntaxes"): decoded frames equal
// the uncompressed twin's, an untouched JPEG 2000 instance keeps its bytes, planted text in a
// lossless JPEG 2000 instance is gone and every other pixel is exact, HTJ2K leaves as JPEG 2000;
// text planted in an HTJ2K instance (encoded by OpenJPH's ojph_compress) is read in the input by the
// tesseract command line and gone from the output.
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/FrameCodec.h"
#include "../../support/Process.h"
#include "FontRenderer.h"
#include "IndependentOcr.h"

using namespace deid::pixels;

namespace {

std::string data(const char* f) { return std::string(DEID_TEST_DATA) + "/" + f; }

std::string meta_xfer(DcmFileFormat& f) {
    OFString uid;
    f.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
    return uid.c_str();
}

cv::Mat first_frame(DcmFileFormat& f) {
    DcmFileFormat copy(f);
    FrameCodec codec(*copy.getDataset(), meta_xfer(copy));
    const std::string why = codec.open();
    INFO(why);
    REQUIRE(why.empty());
    return codec.frame(0);
}

// An uncompressed copy (frames decoded by FrameCodec) for the independent OCR, whose DCMTK
// decoders have no JPEG 2000.
std::unique_ptr<DcmFileFormat> uncompressed_copy(DcmFileFormat& f) {
    auto out = std::make_unique<DcmFileFormat>(f);
    DcmDataset& ds = *out->getDataset();
    FrameCodec codec(ds, meta_xfer(*out));
    REQUIRE(codec.open().empty());
    const cv::Mat m = codec.frame(0);
    ds.findAndDeleteElement(DCM_PixelData);
    ds.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(m.data),
                               static_cast<unsigned long>(m.total() * m.elemSize() / 2));
    ds.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    out->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    return out;
}

// The same for an RGB frame (8 bits, interleaved).
std::unique_ptr<DcmFileFormat> uncompressed_rgb_copy(DcmFileFormat& f) {
    auto out = std::make_unique<DcmFileFormat>(f);
    DcmDataset& ds = *out->getDataset();
    const cv::Mat m = first_frame(f);
    REQUIRE(m.type() == CV_8UC3);
    ds.findAndDeleteElement(DCM_PixelData);
    ds.putAndInsertUint8Array(DCM_PixelData, m.data, static_cast<unsigned long>(m.total() * m.elemSize()));
    ds.putAndInsertString(DCM_PhotometricInterpretation, "RGB");
    ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    out->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    return out;
}

}  // namespace

TEST_CASE("JPEG 2000 lossless decodes to the pixels of its uncompressed twin, untouched it keeps its bytes") {
    DcmFileFormat j2k, plain;
    REQUIRE(j2k.loadFile(data("pixels/MR_small_jp2klossless.dcm").c_str()).good());
    REQUIRE(plain.loadFile(data("corpus/pydicom/MR_small.dcm").c_str()).good());
    REQUIRE(j2k.loadAllDataIntoMemory().good());
    const cv::Mat a = first_frame(j2k), b = first_frame(plain);
    REQUIRE(a.size() == b.size());
    CHECK(cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0);

    DcmFileFormat original(j2k);
    const PixelReport r = PixelCleaner(config::Pixels{}).clean(j2k);
    INFO(r.failure);
    REQUIRE(r.failure.empty());
    CHECK(r.examined);
    CHECK(r.regions_cleaned == 0);
    CHECK_FALSE(r.reencoded);
    CHECK(r.transfer_syntax_uid.empty());
    DcmElement *x = nullptr, *y = nullptr;
    REQUIRE(j2k.getDataset()->findAndGetElement(DCM_PixelData, x).good());
    REQUIRE(original.getDataset()->findAndGetElement(DCM_PixelData, y).good());
    CHECK(x->compare(*y) == 0);  // the same compressed fragments
}

TEST_CASE("planted text in a JPEG 2000 lossless instance is gone, the rest exact, the syntax kept") {
    DcmFileFormat file;
    REQUIRE(file.loadFile(data("pixels/MR_small_jp2klossless.dcm").c_str()).good());
    REQUIRE(file.loadAllDataIntoMemory().good());
    // Plant a name with the codec (decode, draw, re-encode as JPEG 2000 lossless).
    {
        FrameCodec codec(*file.getDataset(), meta_xfer(file));
        REQUIRE(codec.open().empty());
        cv::Mat m = codec.frame(0);
        double lo = 0, hi = 0;
        cv::minMaxLoc(m, &lo, &hi);
        const cv::Mat t = pixels_test::FontRenderer::render("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
                                                            "DOE", 14);
        REQUIRE(t.cols < m.cols);
        cv::Mat roi = m(cv::Rect(2, 1, t.cols, t.rows));
        roi.setTo(cv::Scalar(hi), t >= 128);
        codec.store_frame(0, m);
        REQUIRE(codec.commit(true).empty());
    }
    REQUIRE(file.getDataset()->getOriginalXfer() == EXS_JPEG2000LosslessOnly);
    const cv::Mat planted = first_frame(file);
    auto probe = uncompressed_copy(file);
    const auto before = pixels_test::read_frames(*probe->getDataset());
    INFO("read before: " << before[0]);
    REQUIRE(pixels_test::fuzzy_contains(before[0], "DOE", 0));

    config::Pixels cfg;
    PixelCleaner cleaner(cfg);
    const PixelReport r = cleaner.clean(file);
    INFO(r.failure);
    REQUIRE(r.failure.empty());
    CHECK(r.regions_cleaned > 0);
    CHECK(r.reencoded);
    DcmPixelData* px = nullptr;
    DcmElement* el = nullptr;
    REQUIRE(file.getDataset()->findAndGetElement(DCM_PixelData, el).good());
    px = dynamic_cast<DcmPixelData*>(el);
    REQUIRE(px);
    CHECK(px->canWriteXfer(EXS_JPEG2000LosslessOnly, EXS_LittleEndianExplicit));
    const cv::Mat after = first_frame(file);
    cv::Mat inside = cv::Mat::zeros(after.size(), CV_8UC1);
    for (const CleanedRegion& g : r.regions) inside(cv::Rect(g.x, g.y, g.width, g.height)).setTo(255);
    CHECK(cv::countNonZero((planted != after) & ~inside) == 0);  // lossless: the rest is exact
    auto out = uncompressed_copy(file);
    const auto read_after = pixels_test::read_frames(*out->getDataset());
    INFO("read after: " << read_after[0]);
    CHECK_FALSE(pixels_test::fuzzy_contains(read_after[0], "DOE", 0));
}

TEST_CASE("HTJ2K decodes and leaves as JPEG 2000 lossless (OpenJPEG 2.5 cannot encode HTJ2K), pixels exact") {
    DcmFileFormat file;
    REQUIRE(file.loadFile(data("pixels/HTJ2K_08_RGB.dcm").c_str()).good());
    REQUIRE(file.loadAllDataIntoMemory().good());
    REQUIRE(meta_xfer(file) == "1.2.840.10008.1.2.4.203");
    const cv::Mat before = first_frame(file);
    const PixelReport r = PixelCleaner(config::Pixels{}).clean(file);
    INFO(r.failure);
    REQUIRE(r.failure.empty());
    CHECK(r.examined);
    CHECK(r.transfer_syntax_uid == std::string(UID_JPEG2000LosslessOnlyTransferSyntax));
    CHECK(meta_xfer(file) == std::string(UID_JPEG2000LosslessOnlyTransferSyntax));
    const cv::Mat after = first_frame(file);
    cv::Mat inside = cv::Mat::zeros(after.size(), CV_8UC1);
    for (const CleanedRegion& g : r.regions) inside(cv::Rect(g.x, g.y, g.width, g.height)).setTo(255);
    cv::Mat diff;
    cv::absdiff(before, after, diff);
    cv::cvtColor(diff, diff, cv::COLOR_RGB2GRAY);
    CHECK(cv::countNonZero((diff != 0) & ~inside) == 0);
}

TEST_CASE("planted text in an HTJ2K instance: readable in the input, gone from the JPEG 2000 output") {
    // ojph_compress (Debian openjph-tools, scripts/install-deps.sh) encodes the planted frame as an
    // HTJ2K codestream, which replaces the frame of a third-party HTJ2K RGB instance.
    testsupport::TempDir dir;
    DcmFileFormat file;
    REQUIRE(file.loadFile(data("pixels/HTJ2K_08_RGB.dcm").c_str()).good());
    REQUIRE(file.loadAllDataIntoMemory().good());
    REQUIRE(meta_xfer(file) == "1.2.840.10008.1.2.4.203");
    cv::Mat frame = first_frame(file);
    REQUIRE(frame.type() == CV_8UC3);
    const char* font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    const std::vector<std::string> planted = {"DOE JANE", "MRN 4471823"};
    int y = 4;
    for (const std::string& text : planted) {
        const cv::Mat t = pixels_test::FontRenderer::render(font, text, 16);
        REQUIRE(t.cols + 8 < frame.cols);
        frame(cv::Rect(2, y - 2, t.cols + 4, t.rows + 4)).setTo(cv::Scalar(0, 0, 0));  // a vendor's label box
        frame(cv::Rect(4, y, t.cols, t.rows)).setTo(cv::Scalar(255, 255, 255), t >= 128);
        y += t.rows + 8;
    }
    {
        std::ofstream ppm(dir / "planted.ppm", std::ios::binary);
        ppm << "P6\n" << frame.cols << " " << frame.rows << "\n255\n";
        ppm.write(reinterpret_cast<const char*>(frame.data), static_cast<std::streamsize>(frame.total() * 3));
    }
    const auto enc = testsupport::run({"ojph_compress", "-i", dir / "planted.ppm", "-o", dir / "planted.j2c", "-reversible", "true"});
    INFO(enc.output);
    REQUIRE(enc.exit_code == 0);
    std::ifstream in(dir / "planted.j2c", std::ios::binary);
    std::vector<Uint8> codestream((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(codestream.size() > 2);
    if (codestream.size() % 2) codestream.push_back(0);  // fragments have an even length
    {
        DcmElement* el = nullptr;
        REQUIRE(file.getDataset()->findAndGetElement(DCM_PixelData, el).good());
        auto* px = dynamic_cast<DcmPixelData*>(el);
        REQUIRE(px);
        E_TransferSyntax key = EXS_Unknown;
        const DcmRepresentationParameter* param = nullptr;
        px->getOriginalRepresentationKey(key, param);
        DcmPixelSequence* seq = nullptr;
        REQUIRE(px->getEncapsulatedRepresentation(key, param, seq).good());
        REQUIRE(seq->card() == 2);  // offset table and one fragment
        DcmPixelItem* item = nullptr;
        REQUIRE(seq->getItem(item, 1).good());
        REQUIRE(item->putUint8Array(codestream.data(), static_cast<Uint32>(codestream.size())).good());
    }
    // The HTJ2K input decodes to the planted frame (lossless), and the independent OCR reads every string in it.
    const cv::Mat decoded = first_frame(file);
    cv::Mat diff;
    cv::absdiff(decoded, frame, diff);
    REQUIRE(cv::countNonZero(diff.reshape(1)) == 0);
    auto probe = uncompressed_rgb_copy(file);
    const auto before = pixels_test::read_frames_cli({probe->getDataset()}, dir.path());
    INFO("read before: " << before[0][0]);
    for (const std::string& text : planted) CHECK(pixels_test::fuzzy_contains(before[0][0], text));

    const PixelReport r = PixelCleaner(config::Pixels{}).clean(file);
    INFO(r.failure);
    REQUIRE(r.failure.empty());
    CHECK(r.regions_cleaned > 0);
    CHECK(meta_xfer(file) == std::string(UID_JPEG2000LosslessOnlyTransferSyntax));
    auto out = uncompressed_rgb_copy(file);
    const auto after = pixels_test::read_frames_cli({out->getDataset()}, dir.path());
    INFO("read after: " << after[0][0]);
    for (const std::string& text : planted) CHECK_FALSE(pixels_test::fuzzy_contains(after[0][0], text));
}
