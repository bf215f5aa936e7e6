// Developer tool: runs PixelCleaner on one file, prints the report, writes the result and
// (optionally) PNG renderings of the first frame before and after.
//   pixels_clean_file IN.dcm OUT.dcm [--force] [--inpaint] [--no-verify] [--no-screen] [--png PREFIX]
#include <chrono>
#include <iostream>
#include <string>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "config/Config.h"
#include "deid/pixels/DisplayImage.h"
#include "deid/pixels/FrameCodec.h"
#include "deid/pixels/PixelCleaner.h"

using namespace deid::pixels;

static std::string meta_xfer(DcmFileFormat& f) {
    OFString uid;
    f.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
    return uid.c_str();
}

// Share of pixels (over all frames) whose stored values differ between `a` and `b`; -1 when
// either cannot be decoded.
static double changed_share(DcmFileFormat& a, DcmFileFormat& b) {
    DcmFileFormat ca(a), cb(b);
    FrameCodec x(*ca.getDataset(), meta_xfer(ca)), y(*cb.getDataset(), meta_xfer(cb));
    if (!x.open().empty() || !y.open().empty()) return -1;
    double changed = 0, total = 0;
    for (int i = 0; i < x.layout().frames; ++i) {
        cv::Mat d;
        cv::absdiff(x.frame(i), y.frame(i), d);
        if (d.channels() > 1) cv::transform(d, d, cv::Matx13f(1, 1, 1));
        changed += cv::countNonZero(d.reshape(1) != 0);
        total += d.total();
    }
    return total > 0 ? changed / total : -1;
}

static void write_png(DcmFileFormat& f, const std::string& path) {
    DcmFileFormat copy(f);
    FrameCodec codec(*copy.getDataset(), meta_xfer(copy));
    if (!codec.open().empty()) return;
    for (int i = 0; i < codec.layout().frames && i < 2; ++i)
        cv::imwrite(path + "." + std::to_string(i) + ".png", display_image(codec.frame(i), codec.layout()));
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: pixels_clean_file IN.dcm OUT.dcm [--force] [--inpaint] [--no-verify] [--no-screen] [--png PREFIX]\n";
        return 2;
    }
    config::Pixels cfg;
    bool force = false;
    std::string png;
    for (int i = 3; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--force") force = true;
        else if (a == "--inpaint") cfg.fill = "inpaint";
        else if (a == "--no-verify") cfg.verify = false;
        else if (a == "--no-screen") cfg.screen_all_images = false;
        else if (a == "--png" && i + 1 < argc) png = argv[++i];
    }
    DcmFileFormat file;
    if (file.loadFile(argv[1]).bad()) {
        std::cerr << "cannot read input\n";
        return 1;
    }
    if (force) file.getDataset()->putAndInsertString(DCM_BurnedInAnnotation, "YES");
    if (!png.empty()) write_png(file, png + "_before");
    DcmFileFormat original(file);
    PixelCleaner cleaner(cfg);
    const auto t0 = std::chrono::steady_clock::now();
    PixelReport r = cleaner.clean(file);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "examined=" << r.examined << " frames=" << r.frames << " regions=" << r.regions_cleaned
              << " reencoded=" << r.reencoded << " failure='" << r.failure << "' ms=" << ms
              << " changed_share=" << changed_share(original, file) << "\n";
    for (const auto& g : r.regions)
        std::cout << "  frame " << g.frame << " [" << g.x << "," << g.y << " " << g.width << "x" << g.height << "]"
                  << (g.from_template ? " template" : "") << "\n";
    if (!png.empty()) write_png(file, png + "_after");
    if (file.saveFile(argv[2], EXS_Unknown).bad()) {
        std::cerr << "cannot write output\n";
        return 1;
    }
    return r.failure.empty() ? 0 : 3;
}
