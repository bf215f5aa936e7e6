// The planted-text corpus (PlantedCorpus.h): names, ids and dates burned into CR, DX, MG, CT, MR,
// NM, OP, US, SC and XA images. The `tesseract` command line (IndependentOcr.h: the pictures the
// other evidence tests read, wide-neighbourhood binarisations of bright and dark strokes, and the
// rendering and those turned 90, 180 and 270 degrees) reads every planted string in the input and
// none in the cleaned output. Prints how many it read in the input, recall (strings >= 90 % of whose pixels were changed) and the share of the other
// pixels that changed.
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcfilefo.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/FrameCodec.h"
#include "IndependentOcr.h"
#include "PlantedCorpus.h"

using namespace deid::pixels;

namespace {

std::string temp_dir() {
    std::string t = (std::filesystem::temp_directory_path() / "deid-planted-XXXXXX").string();
    if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp");
    return t;
}

}  // namespace

TEST_CASE("planted text in CR, DX, MG, CT, MR, NM, OP, US, SC, XA: none readable after cleaning") {
    const std::vector<pixels_test::PlantedCase> cases = pixels_test::planted_cases(DEID_TEST_DATA, false);
    REQUIRE(cases.size() >= 10);
    for (const auto& c : cases) {
        INFO(c.name);
        REQUIRE(!c.key.empty());
    }
    std::vector<std::unique_ptr<DcmFileFormat>> files;
    std::vector<DcmDataset*> inputs;
    for (const auto& c : cases) {
        files.push_back(pixels_test::planted_instance(c));
        inputs.push_back(files.back()->getDataset());
    }
    const std::string dir = temp_dir();
    const auto before = pixels_test::read_frames_cli(inputs, dir);
    int planted = 0, readable_before = 0;
    for (std::size_t i = 0; i < cases.size(); ++i)
        for (const auto& k : cases[i].key) {
            ++planted;
            const bool seen = pixels_test::fuzzy_contains(before[i][k.frame], k.text);
            if (seen) ++readable_before;
            else
                std::cout << "  not readable in the input: case " << i << " (" << cases[i].name << "): " << k.text
                          << (std::getenv("DEID_PLANTED_PNG") ? "; read: " + before[i][k.frame] : std::string()) << "\n";
        }
    std::cout << "planted strings readable in the input: " << readable_before << "/" << planted << "\n";
    // Every planted string is legible in its input (the corpus's layout rules make it so): a
    // string no one can read proves nothing about the cleaner.
    // 3 a case, 1 in the NM strip (1024x256), and one upside down in the CT and the MG: the
    // legibility rules dropped none.
    REQUIRE(planted >= 33);
    REQUIRE(readable_before == planted);

    PixelCleaner cleaner(config::Pixels{});  // defaults: every image screened
    int removed = 0;
    double outside_changed = 0, outside_total = 0;
    std::vector<DcmDataset*> outputs;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const PixelReport r = cleaner.clean(*files[i]);
        INFO("case " << i << " (" << cases[i].name << "): " << r.failure);
        CHECK(r.failure.empty());
        CHECK(r.examined);
        outputs.push_back(files[i]->getDataset());
        FrameCodec codec(*files[i]->getDataset());
        REQUIRE(codec.open().empty());
        const double case_changed = outside_changed, case_total = outside_total;
        for (std::size_t f = 0; f < cases[i].frames.size(); ++f) {
            if (const char* png = std::getenv("DEID_PLANTED_PNG")) {  // developer aid: look at the cases
                const std::string stem = std::string(png) + "/case" + std::to_string(i) + "_" + std::to_string(f);
                cv::Mat b, a;
                cv::normalize(cases[i].frames[f], b, 0, 255, cv::NORM_MINMAX, CV_8U);
                cv::normalize(codec.frame(static_cast<int>(f)), a, 0, 255, cv::NORM_MINMAX, CV_8U);
                if (b.channels() == 3) cv::cvtColor(b, b, cv::COLOR_RGB2BGR), cv::cvtColor(a, a, cv::COLOR_RGB2BGR);
                cv::imwrite(stem + "_before.png", b);
                cv::imwrite(stem + "_after.png", a);
            }
            cv::Mat d;
            cv::absdiff(cases[i].frames[f], codec.frame(static_cast<int>(f)), d);
            if (d.channels() == 3) cv::cvtColor(d, d, cv::COLOR_RGB2GRAY);
            const cv::Mat changed = d > 0;
            cv::Mat text = cv::Mat::zeros(d.size(), CV_8UC1);
            for (const auto& k : cases[i].key) {
                if (k.frame != static_cast<int>(f)) continue;
                text(k.box).setTo(255);
                const int px = cv::countNonZero(k.mask);
                if (cv::countNonZero(k.mask & changed) >= 0.9 * px) ++removed;
                else std::cout << "  not removed: case " << i << " (" << cases[i].name << "): " << k.text << "\n";
            }
            // Pixels next to the text (anti-aliasing, the fill's margin) count as text.
            cv::dilate(text, text, cv::getStructuringElement(cv::MORPH_RECT, {9, 9}));
            outside_changed += cv::countNonZero(changed & ~text);
            outside_total += cv::countNonZero(~text);
        }
        std::cout << "  case " << i << " (" << cases[i].name << "): " << r.regions_cleaned << " regions, non-text pixels changed "
                  << 100.0 * (outside_changed - case_changed) / std::max(1.0, outside_total - case_total) << " %\n";
    }
    const auto after = pixels_test::read_frames_cli(outputs, dir);
    int readable_after = 0;
    for (std::size_t i = 0; i < cases.size(); ++i)
        for (const auto& k : cases[i].key)
            if (pixels_test::fuzzy_contains(after[i][k.frame], k.text)) {
                ++readable_after;
                std::cout << "  still readable: case " << i << " (" << cases[i].name << "): " << k.text << "\n";
            }
    if (!std::getenv("DEID_PLANTED_PNG")) std::filesystem::remove_all(dir);  // kept for a developer looking
    std::cout << "planted text: " << cases.size() << " instances, " << planted << " strings; recall "
              << 100.0 * removed / planted << " % (" << removed << "/" << planted << " removed), readable after "
              << readable_after << "; non-text pixels changed " << 100.0 * outside_changed / outside_total << " %\n";
    CHECK(readable_after == 0);  // the claim: nothing the independent OCR reads is released
    // Floors against regressions (measured: docs/pixels.md), not targets.
    CHECK(removed >= 0.8 * planted);
    CHECK(outside_changed / outside_total <= 0.03);
}

TEST_CASE("planted corpus: list the cases", "[.][list]") {
    int n = 0;
    for (const auto& c : pixels_test::planted_cases(DEID_TEST_DATA, false)) {
        if (const char* dir = std::getenv("DEID_PLANTED_DCM"))  // developer aid: the inputs as files
            pixels_test::planted_instance(c)->saveFile((std::string(dir) + "/case" + std::to_string(n) + ".dcm").c_str(),
                                                       EXS_LittleEndianExplicit);
        ++n;
        std::cout << c.name << " | " << c.frames.size() << " frames " << c.frames[0].cols << "x" << c.frames[0].rows
                  << " type " << c.frames[0].type() << " strings " << c.key.size() << "\n";
        for (const auto& k : c.key) std::cout << "   " << k.text << " frame " << k.frame << " box " << k.box << "\n";
    }
}
