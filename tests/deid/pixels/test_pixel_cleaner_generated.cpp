// Generated text with an answer key: recall (share of text boxes whose text pixels were removed)
// must be 100 %, and at most 2 % of the pixels outside the text boxes may change.
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <cstring>
#include <iostream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/FrameCodec.h"
#include "IndependentOcr.h"
#include "SyntheticImages.h"

using namespace deid::pixels;
using pixels_test::Background;

namespace {

struct Tally {
    int boxes = 0, cleaned = 0;
    double outside_changed = 0, outside_total = 0;
};

void run(PixelCleaner& cleaner, const pixels_test::SyntheticCase& c, Tally& t) {
    auto file = pixels_test::make_instance(c.frames, "US");
    const PixelReport report = cleaner.clean(*file);
    INFO("failure: " << report.failure);
    REQUIRE(report.examined);
    // A verification failure would quarantine the instance: here it must not happen.
    CHECK(report.failure.empty());
    FrameCodec codec(*file->getDataset());
    REQUIRE(codec.open().empty());
    for (std::size_t f = 0; f < c.frames.size(); ++f) {
        const cv::Mat after = codec.frame(static_cast<int>(f));
        cv::Mat diff;
        cv::absdiff(c.frames[f], after, diff);
        if (diff.channels() == 3) cv::cvtColor(diff, diff, cv::COLOR_RGB2GRAY);
        const cv::Mat changed = diff > 0;
        cv::Mat text_area = cv::Mat::zeros(after.size(), CV_8UC1);
        for (const auto& k : c.key) {
            if (k.frame != static_cast<int>(f)) continue;
            text_area(k.box).setTo(255);
            const int text_px = cv::countNonZero(k.text_pixels);
            const int removed = cv::countNonZero(k.text_pixels & changed);
            ++t.boxes;
            if (text_px > 0 && removed >= 0.9 * text_px) ++t.cleaned;
            else std::cout << "  missed: frame " << f << " box " << k.box << " channels " << after.channels() << " text px " << text_px << " removed " << removed << "\n";
        }
        t.outside_changed += cv::countNonZero(changed & ~text_area);
        t.outside_total += cv::countNonZero(~text_area);
    }
}

}  // namespace

TEST_CASE("generated burned-in text: 100% recall, <= 2% of other pixels changed") {
    for (const char* fill : {"background", "inpaint"}) {
        DYNAMIC_SECTION("fill " << fill) {
            std::cout << "fill " << fill << "\n";
            config::Pixels cfg;
            cfg.fill = fill;
            PixelCleaner cleaner(cfg);
            cv::RNG rng(20240611);
            Tally t;
            const Background backgrounds[] = {Background::black, Background::dark, Background::gradient,
                                              Background::noise, Background::anatomy};
            int n = 0;
            for (Background bg : backgrounds)
                for (bool rgb : {false, true}) {
                    const int frames = (n++ % 3 == 0) ? 2 : 1;
                    std::cout << " case bg " << static_cast<int>(bg) << " rgb " << rgb << "\n";
                    run(cleaner, pixels_test::make_case(rng, {480, 360}, bg, rgb, frames, 4), t);
                }
            const double recall = t.boxes ? 100.0 * t.cleaned / t.boxes : 0;
            const double outside = t.outside_total > 0 ? 100.0 * t.outside_changed / t.outside_total : 0;
            std::cout << "pixels generated (fill " << fill << "): recall " << recall << "% (" << t.cleaned << "/"
                      << t.boxes << " text boxes), pixels changed outside text " << outside << "%\n";
            CHECK(t.boxes >= 40);
            CHECK(t.cleaned == t.boxes);
            CHECK(outside <= 2.0);
        }
    }
}

TEST_CASE("generated text in an uncompressed YBR_FULL_422 instance is cleaned, untouched pixel pairs stay") {
    cv::RNG rng(4422);
    const auto c = pixels_test::make_case(rng, {480, 360}, Background::dark, true, 1, 4);
    // RGB -> Y Cb Cr (full range), packed two pixels per Y1 Y2 Cb Cr (chroma of the left pixel).
    cv::Mat ycrcb;
    cv::cvtColor(c.frames[0], ycrcb, cv::COLOR_RGB2YCrCb);
    std::vector<std::uint8_t> packed;
    for (int y = 0; y < ycrcb.rows; ++y)
        for (int x = 0; x < ycrcb.cols; x += 2) {
            const cv::Vec3b a = ycrcb.at<cv::Vec3b>(y, x), b = ycrcb.at<cv::Vec3b>(y, x + 1);
            packed.insert(packed.end(), {a[0], b[0], a[2], a[1]});
        }
    auto file = pixels_test::make_instance(c.frames, "US");
    DcmDataset* ds = file->getDataset();
    ds->putAndInsertString(DCM_PhotometricInterpretation, "YBR_FULL_422");
    ds->putAndInsertUint8Array(DCM_PixelData, packed.data(), static_cast<unsigned long>(packed.size()));
    PixelCleaner cleaner(config::Pixels{});
    const PixelReport report = cleaner.clean(*file);
    INFO("failure: " << report.failure);
    REQUIRE(report.failure.empty());
    REQUIRE(report.examined);
    const Uint8* after = nullptr;
    REQUIRE(ds->findAndGetUint8Array(DCM_PixelData, after).good());
    REQUIRE(after);
    // Recall on Y: at least 90 % of every text box's text pixels changed.
    cv::Mat y_before(ycrcb.size(), CV_8UC1), y_after(ycrcb.size(), CV_8UC1);
    cv::Mat cleaned_area = cv::Mat::zeros(ycrcb.size(), CV_8UC1);
    for (const CleanedRegion& r : report.regions) cleaned_area(cv::Rect(r.x, r.y, r.width, r.height)).setTo(255);
    std::size_t pairs_outside_changed = 0;
    for (int y = 0; y < ycrcb.rows; ++y)
        for (int x = 0; x < ycrcb.cols; x += 2) {
            const std::size_t i = (static_cast<std::size_t>(y) * ycrcb.cols + x) * 2;
            y_before.at<std::uint8_t>(y, x) = packed[i];
            y_before.at<std::uint8_t>(y, x + 1) = packed[i + 1];
            y_after.at<std::uint8_t>(y, x) = after[i];
            y_after.at<std::uint8_t>(y, x + 1) = after[i + 1];
            const bool touched = cleaned_area.at<std::uint8_t>(y, x) || cleaned_area.at<std::uint8_t>(y, x + 1);
            if (!touched && std::memcmp(&packed[i], &after[i], 4) != 0) ++pairs_outside_changed;
        }
    const cv::Mat changed = y_before != y_after;
    int cleaned = 0;
    for (const auto& k : c.key) {
        const int text_px = cv::countNonZero(k.text_pixels);
        const int removed = cv::countNonZero(k.text_pixels & changed);
        if (text_px > 0 && removed >= 0.9 * text_px) ++cleaned;
    }
    std::cout << "pixels generated (YBR_FULL_422): " << cleaned << "/" << c.key.size() << " text boxes cleaned\n";
    CHECK(c.key.size() >= 3);
    CHECK(cleaned == static_cast<int>(c.key.size()));
    CHECK(pairs_outside_changed == 0);
}

// Compressed syntaxes: generated text is encoded, cleaned, re-encoded in the same syntax, and an
// independent OCR pass reads none of the text it read before.
TEST_CASE("generated text in compressed instances is gone after cleaning, transfer syntax kept") {
    register_codecs();
    struct Variant {
        const char* name;
        E_TransferSyntax xfer;
        bool rgb;
    };
    const Variant variants[] = {{"JPEG baseline RGB", EXS_JPEGProcess1, true},
                                {"JPEG lossless grey", EXS_JPEGProcess14SV1, false},
                                {"JPEG-LS near-lossless RGB", EXS_JPEGLSLossy, true},
                                {"RLE RGB", EXS_RLELossless, true}};
    DJ_RPLossy jpeg_lossy(90);
    DJ_RPLossless jpeg_lossless(1, 0);
    DJLSRepresentationParameter jls_near(2, OFFalse);
    DcmRLERepresentationParameter rle;
    cv::RNG rng(777);
    PixelCleaner cleaner(config::Pixels{});
    for (const Variant& v : variants) {
        DYNAMIC_SECTION(v.name) {
            const auto c = pixels_test::make_case(rng, {480, 360}, Background::black, v.rgb, 1, 3);
            auto file = pixels_test::make_instance(c.frames, "US");
            const DcmRepresentationParameter* param = v.xfer == EXS_JPEGProcess1 ? static_cast<const DcmRepresentationParameter*>(&jpeg_lossy)
                                                    : v.xfer == EXS_JPEGProcess14SV1 ? static_cast<const DcmRepresentationParameter*>(&jpeg_lossless)
                                                    : v.xfer == EXS_JPEGLSLossy ? static_cast<const DcmRepresentationParameter*>(&jls_near)
                                                                                 : &rle;
            REQUIRE(file->getDataset()->chooseRepresentation(v.xfer, param).good());
            const std::string path = std::string("/tmp/pixels_test_compressed_") + std::to_string(v.xfer) + ".dcm";
            REQUIRE(file->saveFile(path.c_str(), v.xfer).good());
            DcmFileFormat loaded;
            REQUIRE(loaded.loadFile(path.c_str()).good());
            REQUIRE(loaded.loadAllDataIntoMemory().good());
            REQUIRE(loaded.getDataset()->getOriginalXfer() == v.xfer);

            // The independent OCR is the tesseract command line (IndependentOcr.h), as in the planted corpus test.
            std::string work = (std::filesystem::temp_directory_path() / "deid-compressed-XXXXXX").string();
            REQUIRE(mkdtemp(work.data()) != nullptr);
            struct Remove {
                std::string dir;
                ~Remove() { std::filesystem::remove_all(dir); }
            } remove_work{work};
            std::vector<std::string> readable;
            {
                DcmFileFormat probe;
                REQUIRE(probe.loadFile(path.c_str()).good());
                REQUIRE(probe.loadAllDataIntoMemory().good());
                std::remove(path.c_str());
                const std::vector<std::string> before = pixels_test::read_frames_cli({probe.getDataset()}, work)[0];
                for (const auto& k : c.key)
                    if (pixels_test::fuzzy_contains(before[0], k.text)) readable.push_back(k.text);
            }
            INFO("texts readable before: " << readable.size());
            // Every planted string is legible in the compressed input, so the check below covers all.
            REQUIRE(readable.size() == c.key.size());

            const PixelReport report = cleaner.clean(loaded);
            INFO("failure: " << report.failure);
            REQUIRE(report.failure.empty());
            CHECK(report.reencoded);
            REQUIRE(loaded.saveFile(path.c_str(), EXS_Unknown).good());
            DcmFileFormat reread;
            REQUIRE(reread.loadFile(path.c_str()).good());
            REQUIRE(reread.loadAllDataIntoMemory().good());
            std::remove(path.c_str());
            CHECK(reread.getDataset()->getOriginalXfer() == v.xfer);
            const std::vector<std::string> after = pixels_test::read_frames_cli({reread.getDataset()}, work)[0];
            for (const std::string& t : readable) {
                INFO("text still readable: " << t);  // synthetic text, not PHI
                CHECK_FALSE(pixels_test::fuzzy_contains(after[0], t));
            }
        }
    }
}
