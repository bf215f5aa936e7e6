#include "PlantedCorpus.h"

#include <algorithm>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <opencv2/imgproc.hpp>

#include "deid/pixels/FrameCodec.h"
#include "FontRenderer.h"
#include "SyntheticImages.h"

namespace pixels_test {

namespace {

const char* const kFontDir[] = {"/usr/share/fonts/truetype/dejavu/", "/usr/share/fonts/truetype/liberation/",
                                "/usr/share/fonts/truetype/freefont/"};

struct Font {
    std::string file;  // a .ttf path, or "" for a Hershey font
    int hershey = 0;
};

const Font kFonts[] = {
    {std::string(kFontDir[0]) + "DejaVuSans.ttf"},         {std::string(kFontDir[1]) + "LiberationSerif-Regular.ttf"},
    {std::string(kFontDir[0]) + "DejaVuSansMono.ttf"},     {std::string(kFontDir[2]) + "FreeSans.ttf"},
    {std::string(kFontDir[1]) + "LiberationMono-Regular.ttf"}, {std::string(kFontDir[2]) + "FreeSerif.ttf"},
    {std::string(kFontDir[0]) + "DejaVuSerif-Bold.ttf"},   {std::string(kFontDir[2]) + "FreeMonoBold.ttf"},
    {std::string(kFontDir[1]) + "LiberationSans-Bold.ttf"}, {"", cv::FONT_HERSHEY_SIMPLEX},
    {"", cv::FONT_HERSHEY_DUPLEX},                          {"", cv::FONT_HERSHEY_COMPLEX},
};
constexpr int kFontCount = sizeof kFonts / sizeof kFonts[0];

const char* const kStrings[] = {"KAUFMAN SCOTT", "DOB 07.22.1943", "JOHNSON MARY", "MRN 4471823", "ST MARY HOSP",
                                "ID 88213-44",  "WEBER ANNA",     "ACC 20231102", "SMITH JOHN",  "LOPEZ MARIA",
                                "PATEL RAVI",   "ID 552190",      "NGUYEN LINH",  "MUELLER KARL", "BAKER TOM",
                                "12/03/1961",   "OKAFOR CHIDI",   "PID 300418",   "DR HOFFMANN", "ROSSI GIULIA"};
constexpr int kStringCount = sizeof kStrings / sizeof kStrings[0];

// Coverage mask (0..255) of `text` in `font` with capitals about `px` pixels tall.
cv::Mat render(const Font& font, const std::string& text, int px) {
    if (!font.file.empty()) return FontRenderer::render(font.file, text, static_cast<int>(px / 0.72));
    const double scale = cv::getFontScaleFromHeight(font.hershey, px, 1);
    const int thickness = px >= 30 ? 3 : px >= 12 ? 2 : 1;
    int base = 0;
    const cv::Size sz = cv::getTextSize(text, font.hershey, scale, thickness, &base);
    cv::Mat m = cv::Mat::zeros(sz.height + base + 6, sz.width + 6, CV_8UC1);
    cv::putText(m, text, {3, sz.height + 3}, font.hershey, scale, cv::Scalar(255), thickness, cv::LINE_AA);
    return m;
}

// Real anatomy: the first frame of a corpus file (the part `crop` when not empty), as 12-bit
// unsigned grey.
cv::Mat real_frame(const std::string& path, cv::Rect crop = {}) {
    DcmFileFormat f;
    if (f.loadFile(path.c_str()).bad()) return {};
    OFString uid;
    f.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid);
    deid::pixels::FrameCodec codec(*f.getDataset(), uid.c_str());
    if (!codec.open().empty()) return {};
    cv::Mat m = codec.frame(0), d;
    if (m.channels() != 1) return {};
    if (!crop.empty()) m = m(crop & cv::Rect(0, 0, m.cols, m.rows)).clone();
    if (std::max(m.cols, m.rows) > 800) cv::resize(m, m, {}, 0.5, 0.5, cv::INTER_AREA);
    m.convertTo(d, CV_64F);
    double lo = 0, hi = 0;
    cv::minMaxLoc(d, &lo, &hi);
    cv::Mat out;
    d.convertTo(out, CV_16U, 4000.0 / std::max(1.0, hi - lo), -lo * 4000.0 / std::max(1.0, hi - lo));
    return out;
}

cv::Mat smooth_noise(cv::RNG& rng, cv::Size size, double sigma, double amplitude) {
    cv::Mat n(size, CV_32F);
    rng.fill(n, cv::RNG::NORMAL, 0, 1);
    cv::GaussianBlur(n, n, {0, 0}, sigma);
    double lo = 0, hi = 0;
    cv::minMaxLoc(n, &lo, &hi);
    return (n - lo) * (amplitude / std::max(1e-6, hi - lo));
}

// Synthetic anatomy, 12-bit grey (DX, MG) or 8-bit grey (US, XA), or RGB (OP, SC).
cv::Mat synthetic(cv::RNG& rng, const std::string& modality) {
    if (modality == "DX") {  // bones: bright shafts with sharp cortical edges in soft tissue
        cv::Mat f(600, 500, CV_32F, cv::Scalar(600));
        cv::ellipse(f, {250, 300}, {240, 290}, 0, 0, 360, cv::Scalar(1500), cv::FILLED);
        for (int i = 0; i < 3; ++i) {
            const int x = 150 + 100 * i;
            cv::rectangle(f, {x - 22, 60}, {x + 22, 540}, cv::Scalar(3200), cv::FILLED);
            cv::rectangle(f, {x - 12, 70}, {x + 12, 530}, cv::Scalar(2400), cv::FILLED);
        }
        cv::GaussianBlur(f, f, {0, 0}, 1.5);
        f += smooth_noise(rng, f.size(), 1.0, 150);
        cv::Mat out;
        f.convertTo(out, CV_16U);
        return out;
    }
    if (modality == "MG") {  // breast: half ellipse of fibroglandular texture on black
        cv::Mat f(640, 480, CV_32F, cv::Scalar(80));
        cv::Mat tissue = cv::Mat::zeros(f.size(), CV_32F);
        cv::ellipse(tissue, {0, 320}, {380, 300}, 0, -90, 90, cv::Scalar(1), cv::FILLED);
        cv::GaussianBlur(tissue, tissue, {0, 0}, 12);
        cv::Mat texture = smooth_noise(rng, f.size(), 3.0, 1400) + smooth_noise(rng, f.size(), 12.0, 1200);
        f += tissue.mul(texture + 800);
        cv::Mat out;
        f.convertTo(out, CV_16U);
        return out;
    }
    if (modality == "US") {  // speckle in a sector
        cv::Mat f = cv::Mat::zeros(480, 640, CV_32F);
        cv::Mat sector = cv::Mat::zeros(f.size(), CV_32F);
        cv::ellipse(sector, {320, 20}, {420, 420}, 0, 50, 130, cv::Scalar(1), cv::FILLED);
        cv::Mat speckle(f.size(), CV_32F);
        rng.fill(speckle, cv::RNG::UNIFORM, 0, 1);
        cv::pow(speckle, 3, speckle);
        cv::GaussianBlur(speckle, speckle, {0, 0}, 1.2);
        f = sector.mul(speckle * 420 + smooth_noise(rng, f.size(), 25, 60));
        cv::Mat out;
        f.convertTo(out, CV_8U);
        return out;
    }
    if (modality == "XA") {  // dark vessels on grey
        cv::Mat f(512, 512, CV_32F, cv::Scalar(150));
        for (int i = 0; i < 8; ++i) {
            std::vector<cv::Point> pts;
            cv::Point p(rng.uniform(50, 460), rng.uniform(50, 460));
            for (int k = 0; k < 6; ++k) pts.push_back(p += cv::Point(rng.uniform(-60, 60), rng.uniform(-60, 60)));
            cv::polylines(f, pts, false, cv::Scalar(60), rng.uniform(2, 7), cv::LINE_AA);
        }
        cv::GaussianBlur(f, f, {0, 0}, 1.5);
        f += smooth_noise(rng, f.size(), 1.0, 30);
        cv::Mat out;
        f.convertTo(out, CV_8U);
        return out;
    }
    if (modality == "OP") {  // fundus: orange disc, bright optic disc, dark red vessels
        cv::Mat f = cv::Mat::zeros(480, 480, CV_8UC3);
        cv::circle(f, {240, 240}, 220, cv::Scalar(200, 90, 30), cv::FILLED);
        cv::circle(f, {320, 230}, 35, cv::Scalar(250, 210, 140), cv::FILLED);
        for (int i = 0; i < 6; ++i)
            cv::ellipse(f, {320, 230}, {rng.uniform(80, 200), rng.uniform(60, 180)}, rng.uniform(0, 360), 0, 140,
                        cv::Scalar(140, 30, 20), rng.uniform(2, 5), cv::LINE_AA);
        cv::GaussianBlur(f, f, {0, 0}, 1.0);
        return f;
    }
    if (modality == "US-DOPPLER") {  // grey speckle with red/blue colour flow
        cv::Mat g = synthetic(rng, "US"), f;
        cv::cvtColor(g, f, cv::COLOR_GRAY2RGB);
        for (int i = 0; i < 5; ++i) {
            const cv::Point c(rng.uniform(220, 420), rng.uniform(150, 330));
            const cv::Scalar colour = i % 2 ? cv::Scalar(220, 40, 30) : cv::Scalar(40, 80, 230);
            cv::ellipse(f, c, {rng.uniform(25, 60), rng.uniform(15, 40)}, rng.uniform(0, 180), 0, 360, colour, cv::FILLED);
        }
        cv::GaussianBlur(f, f, {0, 0}, 2.0);
        return f;
    }
    // SC: a screenshot: colour gradient with a colour bar
    cv::Mat f(400, 560, CV_8UC3);
    for (int y = 0; y < f.rows; ++y)
        for (int x = 0; x < f.cols; ++x)
            f.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(40 + x / 5), static_cast<uchar>(30 + y / 4), 90);
    for (int y = 40; y < 360; ++y)
        cv::line(f, {520, y}, {545, y}, cv::Scalar(255 * (360 - y) / 320, 60, 255 * (y - 40) / 320));
    return f;
}

// Grey text differs from every pixel of the ground under and beside its strokes by this share of
// the range.
constexpr double kMinGreyContrast = 0.25;
constexpr double kMinColourContrast = 0.3;    // of the luminance (speckle, a gradient)
constexpr double kMinColourOverColour = 0.2;  // ... over colour flow, a disc, a colour bar (smooth blobs)

struct Style {
    int size = 16;
    int rotation = 0;
    cv::Scalar colour;  // grey: value in the frame's range; RGB: colour
    bool coloured_region = false;  // place over the colour (flow, disc, bar)
    double max_background_spread = 0.03;  // largest standard deviation of the background under the text / range
};

// Burns `text` into frame `frame` of `c` at a free random place; returns false when none fits.
bool plant(cv::RNG& rng, PlantedCase& c, int frame, const std::string& text, const Font& font, const Style& s) {
    cv::Mat m = render(font, text, s.size);
    if (m.empty()) return false;
    if (s.rotation == 90) cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE);
    if (s.rotation == 270) cv::rotate(m, m, cv::ROTATE_90_CLOCKWISE);
    if (s.rotation == 180) cv::rotate(m, m, cv::ROTATE_180);
    cv::Mat& img = c.frames[frame];
    if (m.cols + 8 > img.cols || m.rows + 8 > img.rows) return false;
    const double range = img.depth() == CV_16U ? 4095 : 255;
    const bool rgb = img.channels() == 3;
    cv::Scalar colour = s.colour;
    for (int attempt = 0; attempt < 600; ++attempt) {
        colour = s.colour;
        cv::Rect r;
        if (s.coloured_region) {
            // Near the colour content: the middle of the frame (flow, disc) or the colour bar.
            r = cv::Rect(rng.uniform(img.cols / 4, std::max(img.cols / 4 + 1, img.cols * 3 / 4 - m.cols)),
                         rng.uniform(img.rows / 4, std::max(img.rows / 4 + 1, img.rows * 3 / 4 - m.rows)), m.cols, m.rows);
        } else {
            r = cv::Rect(rng.uniform(4, img.cols - m.cols - 4), rng.uniform(4, img.rows - m.rows - 4), m.cols, m.rows);
        }
        r &= cv::Rect(0, 0, img.cols, img.rows);
        if (r.size() != m.size()) continue;
        cv::Mat bg;
        img(r).convertTo(bg, CV_32F);
        cv::Mat grey_bg = bg;
        if (rgb) cv::cvtColor(bg, grey_bg, cv::COLOR_RGB2GRAY);
        // Legible layouts (the independent OCR must read every planted string in the input):
        // grey text stands apart from all the ground under its strokes and around them (bright
        // text over bone of its own brightness is not legible to anyone) ...
        {
            cv::Mat near;
            cv::dilate(m >= 32, near, cv::getStructuringElement(cv::MORPH_RECT, {7, 7}));
            double lo = 0, hi = 0;
            cv::minMaxLoc(grey_bg, &lo, &hi, nullptr, nullptr, near);
            // Light text is raised to white where its own level is too close to the ground.
            // Light text is raised to white where its own level is too close to the ground (grey
            // frames); colour text is judged by its luminance, as the grey rendering shows it.
            const double need = (rgb ? (s.coloured_region ? kMinColourOverColour : kMinColourContrast) : kMinGreyContrast) * range;
            auto level = [&] { return rgb ? 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] : colour[0]; };
            const bool light = level() > range / 2;
            if (!rgb && light && hi > level() - need) colour = cv::Scalar::all(range);
            if (light ? hi > level() - need : lo < level() + need) continue;
        }
        // ... on a background that does not cross it with edges as strong as its own strokes.
        if (attempt < 450) {
            cv::Scalar mean, sd;
            cv::meanStdDev(grey_bg, mean, sd);
            if (sd[0] > s.max_background_spread * range) continue;
        }
        bool clear = true;
        for (const PlantedString& k : c.key) {
            const cv::Rect g(k.box.x - 12, k.box.y - 12, k.box.width + 24, k.box.height + 24);
            if (k.frame == frame && (g & r).area() > 0) clear = false;
        }
        if (!clear) continue;
        cv::Mat a;
        m.convertTo(a, CV_32F, 1.0 / 255);
        cv::Mat region = img(r), f;
        region.convertTo(f, CV_32F);
        std::vector<cv::Mat> ch;
        cv::split(f, ch);
        for (std::size_t k = 0; k < ch.size(); ++k) ch[k] = ch[k].mul(1 - a) + a * colour[static_cast<int>(k)];
        cv::merge(ch, f);
        f.convertTo(region, region.type());
        PlantedString key;
        key.frame = frame;
        key.text = text;
        key.rotation = s.rotation;
        key.mask = cv::Mat::zeros(img.size(), CV_8UC1);
        key.mask(r).setTo(255, m >= 128);
        key.box = cv::boundingRect(key.mask);
        c.key.push_back(key);
        return true;
    }
    return false;
}

}  // namespace

std::vector<PlantedCase> planted_cases(const std::string& data_dir, bool large) {
    cv::RNG rng(20261201);
    // The anatomy has its own generator: a change of the layout rules moves text, not the anatomy.
    cv::RNG anatomy_rng(20261202);
    cv::RNG upside_rng(20261203);
    std::vector<PlantedCase> out;
    const std::string corpus = data_dir + "/corpus/pydicom/";
    struct Source {
        const char* modality;
        std::string real;  // corpus file, or empty for synthetic
        int frames;
        cv::Rect crop;     // of the real frame
    };
    const std::string anatomy = data_dir + "/pixels/anatomy/";
    const std::vector<Source> sources = {
        {"CT", anatomy + "J2K_pixelrep_mismatch.dcm", 1, {}},
        {"MR", anatomy + "ts_siemens_trio_5.dcm", 1, {}},
        // The CR of the pseudo-PHI set below its burned-in lines (they are in the top 400 rows).
        {"CR", data_dir + "/pixels/0_ORIGINAL_compressed.dcm", 1, cv::Rect(200, 700, 1200, 1000)},
        {"NM", corpus + "JPGExtended.dcm", 1, {}},
        {"DX", "", 1, {}}, {"MG", "", 1, {}}, {"OP", "", 1, {}}, {"US", "", 1, {}}, {"US-DOPPLER", "", 1, {}},
        {"SC", "", 1, {}}, {"XA", "", 3, {}},
    };
    const int rounds = large ? 4 : 1;
    int next_string = 0, next_font = 0;
    for (int round = 0; round < rounds; ++round)
        for (const Source& src : sources) {
            PlantedCase c;
            c.modality = src.modality == std::string("US-DOPPLER") ? "US" : src.modality;
            cv::Mat bg = src.real.empty() ? synthetic(anatomy_rng, src.modality) : real_frame(src.real, src.crop);
            if (bg.empty()) continue;
            if (bg.depth() == CV_16U && std::max(bg.cols, bg.rows) < 300) cv::resize(bg, bg, {}, 2, 2, cv::INTER_CUBIC);
            for (int f = 0; f < src.frames; ++f) c.frames.push_back(bg.clone());
            const bool rgb = bg.channels() == 3;
            double hi = bg.depth() == CV_16U ? 4095 : 255;
            const int strings = 3;
            for (int i = 0; i < strings; ++i) {
                Style s;
                const int sizes[] = {11, 14, 18, 24, 32, 40};
                s.size = sizes[(i + 2 * round + static_cast<int>(out.size())) % 6];
                // Every fourth string rotated (90 or 270); coloured over colour in colour frames.
                if ((next_string + round) % 4 == 3) s.rotation = (next_string / 4) % 2 ? 270 : 90;
                if (rgb) {
                    const cv::Scalar colours[] = {{255, 255, 0}, {0, 255, 255}, {255, 255, 255}, {0, 255, 0}};
                    s.colour = colours[(i + round) % 4];
                    s.coloured_region = i == 0;
                } else {
                    // Mostly bright text; dark text on the bright radiographs.
                    const bool dark = (src.modality == std::string("CR") || src.modality == std::string("DX")) && i == 1;
                    s.colour = cv::Scalar::all(dark ? 0 : hi * (0.85 + 0.15 * ((i + round) % 2)));
                }
                // Multi-frame: text in the first and last frames only.
                const int frame = src.frames > 1 ? (i % 2 ? src.frames - 1 : 0) : 0;
                if (i == 2) s.max_background_spread = 0.08;  // one string per case on rougher ground
                if (s.coloured_region) s.max_background_spread = 0.5;
                const Font& font = kFonts[next_font++ % kFontCount];
                const std::string text = kStrings[next_string++ % kStringCount];
                plant(rng, c, frame, text, font, s);
                if (!c.key.empty() && c.key.back().text == text) {
                    c.name += (c.name.empty() ? "" : ", ") + text + " (" +
                              (font.file.empty() ? "Hershey" : font.file.substr(font.file.rfind('/') + 1)) + " " +
                              std::to_string(s.size) + " px" + (s.rotation ? " rot " + std::to_string(s.rotation) : "") + ")";
                }
            }
            // Text stored upside down (turned 180 degrees): one more string in the CT and the MG,
            // placed with a generator of its own (the other placements stay where they were).
            if (src.modality == std::string("CT") || src.modality == std::string("MG")) {
                Style s;
                s.size = src.modality == std::string("CT") ? 16 : 20;
                s.rotation = 180;
                s.colour = cv::Scalar::all(hi);
                const Font& font = kFonts[(round + (src.modality == std::string("CT") ? 0 : 8)) % kFontCount];
                const std::string text = src.modality == std::string("CT") ? "SCHMIDT EVA" : "MRN 5530172";
                plant(upside_rng, c, 0, text, font, s);
                if (!c.key.empty() && c.key.back().text == text)
                    c.name += ", " + text + " (" + (font.file.empty() ? "Hershey" : font.file.substr(font.file.rfind('/') + 1)) +
                              " " + std::to_string(s.size) + " px rot 180)";
            }
            c.name = std::string(src.modality) + (src.real.empty() ? " synthetic: " : " real anatomy: ") + c.name;
            out.push_back(std::move(c));
        }
    return out;
}

std::unique_ptr<DcmFileFormat> planted_instance(const PlantedCase& c) {
    const char* sop = UID_SecondaryCaptureImageStorage;
    if (c.modality == "CT") sop = UID_CTImageStorage;
    else if (c.modality == "MR") sop = UID_MRImageStorage;
    else if (c.modality == "CR") sop = UID_ComputedRadiographyImageStorage;
    else if (c.modality == "DX") sop = UID_DigitalXRayImageStorageForPresentation;
    else if (c.modality == "MG") sop = UID_DigitalMammographyXRayImageStorageForPresentation;
    else if (c.modality == "NM") sop = UID_NuclearMedicineImageStorage;
    else if (c.modality == "OP") sop = UID_OphthalmicPhotography8BitImageStorage;
    else if (c.modality == "US") sop = UID_UltrasoundImageStorage;
    else if (c.modality == "XA") sop = UID_XRayAngiographicImageStorage;
    auto file = make_instance(c.frames, c.modality.c_str());  // 16-bit: 12 bits stored
    file->getDataset()->putAndInsertString(DCM_SOPClassUID, sop);
    return file;
}

}  // namespace pixels_test
