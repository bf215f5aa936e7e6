// The text screen on images that are not text-prone (docs/pixels.md, "The screen"): real
// anatomy without text keeps its pixels and is never quarantined; third-party CT and CR images
// with burned-in names, without Burned In Annotation, lose the text the screen and OCR find.
#include "deid/pixels/PixelCleaner.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/DisplayImage.h"
#include "deid/pixels/FrameCodec.h"
#include "deid/pixels/TextScreen.h"
#include "PlantedCorpus.h"
#include "SyntheticImages.h"
#include "IndependentOcr.h"

using namespace deid::pixels;

namespace {

// Share of pixels over all frames whose stored values differ.
std::string meta_xfer(DcmFileFormat& f) {
    OFString uid;
    f.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
    return uid.c_str();
}

double changed_share(DcmFileFormat& a, DcmFileFormat& b) {
    DcmFileFormat ca(a), cb(b);
    FrameCodec x(*ca.getDataset(), meta_xfer(ca)), y(*cb.getDataset(), meta_xfer(cb));
    REQUIRE(x.open().empty());
    REQUIRE(y.open().empty());
    double changed = 0, total = 0;
    for (int i = 0; i < x.layout().frames; ++i) {
        cv::Mat d;
        cv::absdiff(x.frame(i), y.frame(i), d);
        d = d.reshape(1);
        changed += cv::countNonZero(d != 0);
        total += static_cast<double>(d.total());
    }
    return changed / total;
}

}  // namespace

TEST_CASE("real anatomy without text (CT, MR, CR, NM): median share of pixels changed <= 0.5 %, none quarantined") {
    const std::string dir = std::string(DEID_TEST_DATA) + "/";
    // The well-formed files of tests/data/corpus, the anatomy set of tests/data/pixels (larger
    // CT, MR and NM frames, JPEG lossless / JPEG 2000 / JPEG extended) and the Siemens MR with overlays.
    std::vector<std::string> names;
    std::ifstream list(dir + "corpus/FILES.tsv");
    REQUIRE(list.good());
    for (std::string line; std::getline(list, line);)
        if (line.find("\twell-formed") != std::string::npos) names.push_back("corpus/" + line.substr(0, line.find('\t')));
    for (const auto& e : std::filesystem::directory_iterator(dir + "pixels/anatomy"))
        names.push_back("pixels/anatomy/" + e.path().filename().string());
    names.push_back("pixels/MR-SIEMENS-DICOM-WithOverlays.dcm");
    config::Pixels cfg;  // defaults: every image screened
    PixelCleaner cleaner(cfg);
    std::vector<double> shares;
    for (const std::string& name : names) {
        DcmFileFormat file;
        if (file.loadFile((dir + name).c_str()).bad()) continue;
        OFString modality;
        file.getDataset()->findAndGetOFString(DCM_Modality, modality);
        if (modality != "CT" && modality != "MR" && modality != "CR" && modality != "NM" && modality != "MG" &&
            name.find("explicit_VR-UN") == std::string::npos)  // its Modality is UN-encoded CT
            continue;
        if (!file.getDataset()->tagExists(DCM_PixelData)) continue;
        if (name.find("2_ORIGINAL") != std::string::npos) continue;  // has burned-in text (tested below)
        REQUIRE(file.loadAllDataIntoMemory().good());
        DcmFileFormat original(file);
        const PixelReport r = cleaner.clean(file);
        INFO(name << ": " << r.failure);
        CHECK(r.failure.empty());  // nothing quarantined for text it does not have
        CHECK(r.examined);
        const double share = changed_share(original, file);
        std::cout << "  " << modality << " " << name << ": " << r.regions_cleaned << " regions, " << 100.0 * share
                  << " % of pixels changed\n";
        shares.push_back(share);
    }
    REQUIRE(shares.size() >= 24);
    std::sort(shares.begin(), shares.end());
    const double median = shares[shares.size() / 2];
    std::cout << "real anatomy: " << shares.size() << " instances, median share of pixels changed " << 100.0 * median
              << " %, largest " << 100.0 * shares.back() << " %\n";
    CHECK(median <= 0.005);
}

TEST_CASE("third-party CT and CR with burned-in names and no Burned In Annotation: the screen finds the text") {
    struct Sample {
        const char* file;
        std::vector<std::string> known_text;
    };
    const std::vector<Sample> samples = {
        {"2_ORIGINAL.dcm", {"KAUFMAN", "SCOTT", "07.22.1943"}},
        {"0_ORIGINAL_compressed.dcm", {"DAVIDSON", "DOUGLAS", "06.16.1976"}},
    };
    PixelCleaner cleaner(config::Pixels{});
    for (const Sample& s : samples) {
        DYNAMIC_SECTION(s.file) {
            DcmFileFormat file;
            REQUIRE(file.loadFile((std::string(DEID_TEST_DATA) + "/pixels/" + s.file).c_str()).good());
            REQUIRE(file.loadAllDataIntoMemory().good());
            REQUIRE_FALSE(file.getDataset()->tagExists(DCM_BurnedInAnnotation));
            const std::vector<std::string> before = pixels_test::read_frames(*file.getDataset());
            for (const std::string& t : s.known_text) CHECK(pixels_test::fuzzy_contains(before[0], t));
            const PixelReport r = cleaner.clean(file);
            INFO(r.failure);
            REQUIRE(r.failure.empty());
            CHECK(r.examined);
            CHECK(r.regions_cleaned > 0);
            const std::vector<std::string> after = pixels_test::read_frames(*file.getDataset());
            for (const std::string& t : s.known_text) {
                INFO("known text #" << (&t - s.known_text.data()) << " unreadable after");
                CHECK_FALSE(pixels_test::fuzzy_contains(after[0], t));
            }
        }
    }
}

// The first pass reads a stroke against the frame's own noise: a frame of pixel noise (the
// generated CT of deid-generate, 12-bit uniform noise) is not flagged and costs nothing more,
// while a name drawn over anatomy, with or without ordinary noise, still is.
TEST_CASE("first pass: a frame of pixel noise is not flagged, text over noisy anatomy is") {
    cv::RNG rng(12);
    cv::Mat noise(512, 512, CV_16UC1);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 4096);
    CHECK(TextScreen::text_areas(noise).empty());
    auto file = pixels_test::make_instance({noise}, "CT");
    DcmFileFormat before(*file);
    PixelCleaner cleaner(config::Pixels{});
    const PixelReport r = cleaner.clean(*file);
    CHECK(r.failure.empty());
    CHECK(r.regions_cleaned == 0);
    CHECK(changed_share(before, *file) == 0.0);

    for (const double sigma : {0.0, 40.0}) {  // 40 of a 0..3000 range: more than CT's own noise
        INFO("noise sigma " << sigma);
        cv::Mat f = pixels_test::make_ct_frame(rng), n(f.size(), CV_16SC1), g;
        rng.fill(n, cv::RNG::NORMAL, 0, sigma);
        f.convertTo(g, CV_32F);
        g += 200;  // room for the noise below the ground
        cv::Mat nf;
        n.convertTo(nf, CV_32F);
        g += nf;
        g.convertTo(f, CV_16U);
        const cv::Rect text(120, 60, 260, 24);
        cv::putText(f, "DOE JOHN 4471823", {text.x, text.y + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.7, cv::Scalar(3000), 2);
        const auto areas = TextScreen::text_areas(f);
        cv::Mat in = cv::Mat::zeros(f.size(), CV_8UC1);
        for (const auto& a : areas) in(a).setTo(255);
        CHECK(cv::countNonZero(in(text)) == text.area());
    }
}

// Developer probe (hidden): what the first pass flags on real anatomy and on the planted corpus.
TEST_CASE("first pass: areas flagged on anatomy and planted text", "[.][first-pass]") {
    const std::string dir = std::string(DEID_TEST_DATA) + "/";
    std::vector<std::string> names;
    std::ifstream list(dir + "corpus/FILES.tsv");
    for (std::string line; std::getline(list, line);)
        if (line.find("\twell-formed") != std::string::npos) names.push_back(dir + "corpus/" + line.substr(0, line.find('\t')));
    for (const auto& e : std::filesystem::directory_iterator(dir + "pixels/anatomy")) names.push_back(e.path().string());
    if (const char* extra = std::getenv("DEID_FIRST_PASS_FILES")) {  // more files, one path a line
        std::ifstream more(extra);
        for (std::string line; std::getline(more, line);) names.push_back(line);
    }
    int frames = 0, flagged = 0;
    for (const std::string& name : names) {
        DcmFileFormat file;
        if (file.loadFile(name.c_str()).bad() || !file.getDataset()->tagExists(DCM_PixelData)) continue;
        OFString modality;
        file.getDataset()->findAndGetOFString(DCM_Modality, modality);
        if (modality != "CT" && modality != "MR" && modality != "CR" && modality != "NM" && modality != "MG" &&
            modality != "DX")
            continue;
        if (name.find("ORIGINAL") != std::string::npos) continue;
        FrameCodec codec(*file.getDataset(), meta_xfer(file));
        if (!codec.open().empty() || codec.layout().samples != 1) continue;
        for (int i = 0; i < std::min(codec.layout().frames, 8); ++i) {
            const cv::Mat grey = display_image(codec.frame(i), codec.layout());
            const auto areas = TextScreen::text_areas(grey);
            double a = 0;
            for (const auto& r : areas) a += r.area();
            ++frames;
            flagged += !areas.empty();
            if (!areas.empty())
                std::cout << "  flagged " << modality << " " << name << " frame " << i << ": " << areas.size() << " areas, "
                          << 100.0 * a / grey.total() << " %\n";
        }
    }
    std::cout << "anatomy: " << flagged << "/" << frames << " frames flagged\n";
    int strings = 0, covered = 0;
    for (const auto& c : pixels_test::planted_cases(DEID_TEST_DATA, false)) {
        if (c.frames[0].channels() != 1) continue;
        ImageLayout l;
        l.rows = c.frames[0].rows, l.columns = c.frames[0].cols, l.samples = 1;
        l.bits_allocated = c.frames[0].depth() == CV_16U ? 16 : 8, l.bits_stored = l.bits_allocated == 16 ? 12 : 8;
        l.photometric = "MONOCHROME2";
        for (const auto& k : c.key) {
            const auto areas = TextScreen::text_areas(display_image(c.frames[k.frame], l));
            cv::Mat in = cv::Mat::zeros(k.mask.size(), CV_8UC1);
            for (const auto& r : areas) in(r).setTo(255);
            ++strings;
            const bool ok = cv::countNonZero(in & k.mask) >= 0.95 * cv::countNonZero(k.mask);
            covered += ok;
            if (!ok) {
                std::cout << "  missed: " << c.name << ": " << k.text << " box " << k.box << " areas";
                for (const auto& r : areas) std::cout << " " << r;
                std::cout << "\n";
                if (std::getenv("DEID_PLANTED_PNG")) {
                    cv::Mat d = display_image(c.frames[k.frame], l);
                    cv::imwrite(std::string(std::getenv("DEID_PLANTED_PNG")) + "/miss_" + k.text + ".png", d);
                }
            }
        }
    }
    std::cout << "planted (grey): " << covered << "/" << strings << " strings inside flagged areas\n";
    if (std::getenv("DEID_PIXELS_DEBUG")) {
        PixelCleaner cleaner(config::Pixels{});
        for (const auto& c : pixels_test::planted_cases(DEID_TEST_DATA, false)) {
            if (c.modality != "CT" && c.modality != "MG" && c.modality != "DX") continue;
            auto f = pixels_test::planted_instance(c);
            const PixelReport r = cleaner.clean(*f);
            std::cout << c.name << ": " << r.regions_cleaned << " regions " << r.failure << "\n";
        }
    }
}

TEST_CASE("first pass: the value range of frames narrower than a vector is read within the frame") {
    // Each frame ends where its buffer ends: right before a page that cannot be read, so reading
    // past the frame's last byte (a whole vector loaded from a narrower row) stops the test.
    const long page = ::sysconf(_SC_PAGESIZE);
    void* mem = ::mmap(nullptr, static_cast<std::size_t>(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* base = static_cast<unsigned char*>(mem);
    REQUIRE(::mprotect(base + page, static_cast<std::size_t>(page), PROT_NONE) == 0);
    struct Case {
        int type, rows, cols;
    };
    for (const Case c : {Case{CV_8U, 1, 1}, Case{CV_8U, 2, 5}, Case{CV_16U, 1, 3}, Case{CV_16U, 2, 2}, Case{CV_16S, 1, 1},
                         Case{CV_16S, 3, 7}}) {
        INFO("type " << c.type << ", " << c.rows << "x" << c.cols);
        const std::size_t bytes = static_cast<std::size_t>(c.rows) * c.cols * CV_ELEM_SIZE(c.type);
        cv::Mat frame(c.rows, c.cols, c.type, base + page - bytes);
        cv::randu(frame, cv::Scalar(c.type == CV_16S ? -300 : 0), cv::Scalar(c.type == CV_8U ? 255 : 3000));
        double want_lo = 0, want_hi = 0, lo = 0, hi = 0;
        cv::minMaxIdx(frame, &want_lo, &want_hi);
        TextScreen::range_of(frame, lo, hi);
        CHECK(lo == want_lo);
        CHECK(hi == want_hi);
    }
    ::munmap(mem, static_cast<std::size_t>(2 * page));
}
