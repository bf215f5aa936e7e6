// Third-party files with burned-in text (tests/data/pixels/README.md): the known text is readable
// before, an independent OCR pass finds none of it after, and every pixel outside the cleaned
// regions is unchanged (all these files are lossless: exact equality).
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <opencv2/core.hpp>

#include "deid/pixels/FrameCodec.h"
#include "IndependentOcr.h"

using namespace deid::pixels;

namespace {

struct Sample {
    const char* file;
    std::vector<std::string> known_text;
};

std::string data_path(const char* f) { return std::string(DEID_TEST_DATA) + "/pixels/" + f; }

std::vector<cv::Mat> frames_of(DcmFileFormat& file, ImageLayout& layout) {
    DcmFileFormat copy(file);
    FrameCodec codec(*copy.getDataset());
    const std::string why = codec.open();
    INFO("open: " << why);
    REQUIRE(why.empty());
    layout = codec.layout();
    std::vector<cv::Mat> out;
    for (int i = 0; i < layout.frames; ++i) out.push_back(codec.frame(i));
    return out;
}

}  // namespace

TEST_CASE("burned-in text of third-party files is gone and nothing else changed") {
    const std::vector<Sample> samples = {
        {"2_ORIGINAL.dcm", {"KAUFMAN", "SCOTT", "07.22.1943"}},
        {"0_ORIGINAL_compressed.dcm", {"DAVIDSON", "DOUGLAS", "06.16.1976"}},
        {"US1_UNCR.dcm", {"BAPTIST"}},
        {"US1_RLE.dcm", {"BAPTIST"}},
        {"OBXXXX1A_rle_2frame.dcm", {"5/25/2011", "11-05-25-142825"}},
    };
    config::Pixels cfg;  // defaults: fill background, verify on
    PixelCleaner cleaner(cfg);
    for (const Sample& s : samples) {
        DYNAMIC_SECTION(s.file) {
            DcmFileFormat original;
            REQUIRE(original.loadFile(data_path(s.file).c_str()).good());
            REQUIRE(original.loadAllDataIntoMemory().good());  // as the pipeline does
            const E_TransferSyntax xfer = original.getDataset()->getOriginalXfer();
            // CT and CR are not text-prone by default; a site marks such series Burned In Annotation YES.
            original.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");

            // The known text is readable before cleaning, so this test can fail.
            const std::vector<std::string> before = pixels_test::read_frames(*original.getDataset());
            for (const std::string& t : s.known_text) {
                bool seen = false;
                for (const std::string& f : before) seen = seen || pixels_test::fuzzy_contains(f, t);
                INFO("known text #" << (&t - s.known_text.data()) << " readable in the original");
                CHECK(seen);
            }

            DcmFileFormat cleaned(original);
            const PixelReport report = cleaner.clean(cleaned);
            INFO("failure: " << report.failure);
            REQUIRE(report.failure.empty());
            CHECK(report.examined);
            CHECK(report.regions_cleaned > 0);
            std::cout << "pixels corpus: " << s.file << ": " << report.regions_cleaned << " regions cleaned in "
                      << report.frames << " frame(s)\n";

            // Written and read back: same transfer syntax, Burned In Annotation NO.
            const std::string out = std::string("/tmp/pixels_test_") + s.file;
            REQUIRE(cleaned.saveFile(out.c_str(), EXS_Unknown).good());
            DcmFileFormat reread;
            REQUIRE(reread.loadFile(out.c_str()).good());
            REQUIRE(reread.loadAllDataIntoMemory().good());  // the file is removed below
            CHECK(reread.getDataset()->getOriginalXfer() == xfer);
            OFString ts;
            reread.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, ts);
            CHECK(ts == DcmXfer(xfer).getXferID());
            OFString bia;
            reread.getDataset()->findAndGetOFString(DCM_BurnedInAnnotation, bia);
            CHECK(bia == "NO");

            const std::vector<std::string> after = pixels_test::read_frames(*reread.getDataset());
            std::remove(out.c_str());
            for (const std::string& t : s.known_text)
                for (const std::string& f : after) {
                    INFO("known text #" << (&t - s.known_text.data()) << " must not be readable after cleaning");
                    CHECK_FALSE(pixels_test::fuzzy_contains(f, t));
                }

            // Outside the cleaned regions every stored value is identical (lossless syntaxes).
            ImageLayout la, lb;
            const std::vector<cv::Mat> a = frames_of(original, la), b = frames_of(reread, lb);
            REQUIRE(a.size() == b.size());
            std::size_t changed_outside = 0, changed_inside = 0;
            for (std::size_t f = 0; f < a.size(); ++f) {
                cv::Mat inside = cv::Mat::zeros(a[f].size(), CV_8UC1);
                for (const CleanedRegion& r : report.regions)
                    if (r.frame == static_cast<int>(f)) inside(cv::Rect(r.x, r.y, r.width, r.height)).setTo(255);
                cv::Mat diff;
                cv::compare(a[f].reshape(1), b[f].reshape(1), diff, cv::CMP_NE);
                if (a[f].channels() == 3) {
                    cv::Mat d = diff.reshape(3);
                    std::vector<cv::Mat> ch;
                    cv::split(d, ch);
                    diff = ch[0] | ch[1] | ch[2];
                }
                changed_outside += static_cast<std::size_t>(cv::countNonZero(diff & ~inside));
                changed_inside += static_cast<std::size_t>(cv::countNonZero(diff & inside));
            }
            CHECK(changed_outside == 0);
            CHECK(changed_inside > 0);
        }
    }
}

TEST_CASE("with pixels.screen_all_images off, out-of-scope instances are not examined and not touched") {
    DcmFileFormat file;
    REQUIRE(file.loadFile(data_path("2_ORIGINAL.dcm").c_str()).good());  // CT, no Burned In Annotation
    config::Pixels cfg;
    cfg.screen_all_images = false;
    PixelCleaner cleaner(cfg);
    const PixelReport r = cleaner.clean(file);
    CHECK_FALSE(r.examined);
    CHECK(r.regions_cleaned == 0);
    CHECK(r.failure.empty());
    CHECK_FALSE(file.getDataset()->tagExists(DCM_BurnedInAnnotation));
}

TEST_CASE("a region template cleans its rectangles on a matching device only") {
    config::Pixels cfg;
    cfg.text_prone_modalities.clear();
    cfg.text_prone_sop_classes.clear();
    config::Region region;
    region.manufacturer = "toshiba";
    region.model = "Aquilion ONE";
    region.rows = 552;
    region.columns = 394;
    region.rects.push_back({0, 0, 240, 30});
    cfg.regions.push_back(region);
    cfg.verify = false;
    PixelCleaner cleaner(cfg);
    DcmFileFormat file;
    REQUIRE(file.loadFile(data_path("2_ORIGINAL.dcm").c_str()).good());
    const PixelReport r = cleaner.clean(file);
    REQUIRE(r.examined);
    REQUIRE(r.failure.empty());
    bool template_seen = false;
    for (const CleanedRegion& g : r.regions)
        if (g.from_template) template_seen = g.x == 0 && g.y == 0 && g.width == 240 && g.height == 30;
    CHECK(template_seen);

    cfg.regions[0].rows = 512;  // another device geometry: no match, not in scope
    cfg.screen_all_images = false;
    PixelCleaner other(cfg);
    DcmFileFormat file2;
    REQUIRE(file2.loadFile(data_path("2_ORIGINAL.dcm").c_str()).good());
    CHECK_FALSE(other.clean(file2).examined);
}

TEST_CASE("in-scope instances without text leave with the same pixel data (JPEG YBR_FULL, uncompressed YBR_FULL_422)") {
    for (const char* name : {"SC_rgb_jpeg_dcmtk.dcm", "SC_ybr_full_422_uncompressed.dcm"}) {
        DYNAMIC_SECTION(name) {
            DcmFileFormat file;
            REQUIRE(file.loadFile(data_path(name).c_str()).good());
            const E_TransferSyntax xfer = file.getDataset()->getOriginalXfer();
            OFString pi_before;
            file.getDataset()->findAndGetOFString(DCM_PhotometricInterpretation, pi_before);
            file.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");
            // The bytes as written before cleaning, for comparison.
            const std::string a = std::string("/tmp/pixels_test_a_") + name, b = std::string("/tmp/pixels_test_b_") + name;
            REQUIRE(file.saveFile(a.c_str(), xfer).good());
            PixelCleaner cleaner(config::Pixels{});
            const PixelReport r = cleaner.clean(file);
            INFO("failure: " << r.failure);
            REQUIRE(r.failure.empty());
            CHECK(r.examined);
            CHECK(r.regions_cleaned == 0);
            OFString pi_after;
            file.getDataset()->findAndGetOFString(DCM_PhotometricInterpretation, pi_after);
            CHECK(pi_after == pi_before);
            file.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");
            REQUIRE(file.saveFile(b.c_str(), xfer).good());
            // Written in the same transfer syntax, the two files are byte-identical.
            auto slurp = [](const std::string& path) {
                std::ifstream in(path, std::ios::binary);
                return std::string(std::istreambuf_iterator<char>(in), {});
            };
            const std::string bytes_a = slurp(a), bytes_b = slurp(b);
            std::remove(a.c_str());
            std::remove(b.c_str());
            CHECK(bytes_a.size() > 1000);
            CHECK(bytes_a == bytes_b);
        }
    }
}
