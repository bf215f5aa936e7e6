#include "SyntheticImages.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <opencv2/imgproc.hpp>

namespace pixels_test {

namespace {

const char* const kTexts[] = {"DOE^JOHN",  "12.03.1961", "ID 4471923", "ST MARY HOSP", "08:15:22", "ACC 99812",
                              "SMITH ANNA", "F 57Y",     "2D",         "MRN 00231",    "DR WEBER",  "03/04/2019"};
const int kFonts[] = {cv::FONT_HERSHEY_SIMPLEX, cv::FONT_HERSHEY_PLAIN, cv::FONT_HERSHEY_DUPLEX,
                      cv::FONT_HERSHEY_COMPLEX, cv::FONT_HERSHEY_TRIPLEX};
const cv::Scalar kColours[] = {{255, 255, 255}, {255, 255, 0}, {0, 255, 255}, {0, 255, 0},
                               {210, 210, 210}, {255, 160, 0}};

cv::Mat background(cv::RNG& rng, cv::Size size, Background bg) {
    cv::Mat m(size, CV_8UC3, cv::Scalar::all(0));
    switch (bg) {
        case Background::black: break;
        case Background::dark: m.setTo(cv::Scalar(40, 40, 60)); break;
        case Background::gradient:
            for (int x = 0; x < size.width; ++x) m.col(x).setTo(cv::Scalar::all(10 + 110.0 * x / size.width));
            break;
        case Background::noise: {
            cv::Mat n(size, CV_8UC1);
            rng.fill(n, cv::RNG::NORMAL, 60, 12);
            cv::cvtColor(n, m, cv::COLOR_GRAY2RGB);
            break;
        }
        case Background::anatomy: {
            cv::Mat f(size, CV_32F, cv::Scalar(20));
            for (int i = 0; i < 14; ++i) {
                cv::Mat blob(size, CV_32F, cv::Scalar(0));
                cv::circle(blob, {rng.uniform(0, size.width), rng.uniform(0, size.height)},
                           rng.uniform(20, 90), cv::Scalar(rng.uniform(30, 110)), cv::FILLED);
                cv::GaussianBlur(blob, blob, {0, 0}, 15);
                f += blob;
            }
            cv::Mat n(size, CV_32F);
            rng.fill(n, cv::RNG::NORMAL, 0, 8);
            f += n;
            cv::Mat g;
            f.convertTo(g, CV_8U);
            cv::cvtColor(g, m, cv::COLOR_GRAY2RGB);
            break;
        }
    }
    return m;
}

}  // namespace

SyntheticCase make_case(cv::RNG& rng, cv::Size size, Background bg, bool rgb, int frames, int lines) {
    SyntheticCase out;
    for (int f = 0; f < frames; ++f) {
        cv::Mat plain = background(rng, size, bg);
        cv::Mat img = plain.clone();
        std::vector<cv::Rect> taken;
        for (int l = 0; l < lines; ++l) {
            const std::string text = kTexts[rng.uniform(0, 12)];
            const int font = kFonts[rng.uniform(0, 5)];
            const double scale = font == cv::FONT_HERSHEY_PLAIN ? rng.uniform(1.0, 2.0) : rng.uniform(0.45, 1.0);
            const int thickness = rng.uniform(1, 3);
            int baseline = 0;
            const cv::Size ts = cv::getTextSize(text, font, scale, thickness, &baseline);
            cv::Rect box;
            for (int attempt = 0; attempt < 50; ++attempt) {
                const cv::Point org(rng.uniform(4, std::max(5, size.width - ts.width - 4)),
                                    rng.uniform(ts.height + 4, std::max(ts.height + 5, size.height - baseline - 4)));
                box = cv::Rect(org.x - 2, org.y - ts.height - 2, ts.width + 4, ts.height + baseline + 4);
                bool overlap = false;
                for (const cv::Rect& t : taken) {
                    const cv::Rect grown(t.x - 12, t.y - 12, t.width + 24, t.height + 24);
                    overlap = overlap || (grown & box).area() > 0;
                }
                if (!overlap) break;
                box = {};
            }
            if (box.empty()) continue;
            taken.push_back(box);
            const cv::Scalar colour = kColours[rng.uniform(0, 6)];
            cv::Mat before = img.clone();
            cv::putText(img, text, {box.x + 2, box.y + 2 + ts.height}, font, scale, colour, thickness, cv::LINE_AA);
            TextBox key;
            key.frame = f;
            key.box = box & cv::Rect(0, 0, size.width, size.height);
            key.text = text;
            // Text pixels as stored: grey frames compare the grey renderings (a colour that turns
            // into the background's grey is not in a grey frame); colour frames take the largest
            // change of any sample. Clearly text, not faint anti-aliasing.
            cv::Mat diff;
            if (rgb) {
                cv::absdiff(before, img, diff);
                std::vector<cv::Mat> ch;
                cv::split(diff, ch);
                cv::max(ch[0], ch[1], diff);
                cv::max(diff, ch[2], diff);
            } else {
                cv::Mat g0, g1;
                cv::cvtColor(before, g0, cv::COLOR_RGB2GRAY);
                cv::cvtColor(img, g1, cv::COLOR_RGB2GRAY);
                cv::absdiff(g0, g1, diff);
            }
            key.text_pixels = diff > 24;
            out.key.push_back(key);
        }
        if (!rgb) {
            cv::Mat g;
            cv::cvtColor(img, g, cv::COLOR_RGB2GRAY);
            img = g;
        }
        out.frames.push_back(img);
    }
    return out;
}

cv::Mat make_ct_frame(cv::RNG& rng) {
    cv::Mat f(512, 512, CV_16UC1, cv::Scalar(0));
    cv::circle(f, {256, 256}, 200, cv::Scalar(1000), cv::FILLED);
    cv::circle(f, {200, 240}, 60, cv::Scalar(1100), cv::FILLED);
    cv::circle(f, {320, 280}, 40, cv::Scalar(1900), cv::FILLED);
    cv::Mat n(f.size(), CV_16UC1);
    rng.fill(n, cv::RNG::UNIFORM, 0, 30);
    f += n;
    return f;
}

std::unique_ptr<DcmFileFormat> make_instance(const std::vector<cv::Mat>& frames, const char* modality) {
    auto file = std::make_unique<DcmFileFormat>();
    DcmDataset* ds = file->getDataset();
    const cv::Mat& first = frames.front();
    char uid[100];
    const bool ct = first.depth() == CV_16U;
    ds->putAndInsertString(DCM_SOPClassUID, ct ? UID_CTImageStorage
                                               : (frames.size() > 1 ? UID_UltrasoundMultiframeImageStorage
                                                                    : UID_UltrasoundImageStorage));
    ds->putAndInsertString(DCM_SOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    ds->putAndInsertString(DCM_Modality, modality);
    ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(first.rows));
    ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(first.cols));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, static_cast<Uint16>(first.channels()));
    ds->putAndInsertString(DCM_PhotometricInterpretation, first.channels() == 3 ? "RGB" : "MONOCHROME2");
    if (first.channels() == 3) ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
    const Uint16 bits = ct ? 16 : 8;
    ds->putAndInsertUint16(DCM_BitsAllocated, bits);
    ds->putAndInsertUint16(DCM_BitsStored, ct ? 12 : 8);
    ds->putAndInsertUint16(DCM_HighBit, ct ? 11 : 7);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    if (frames.size() > 1) ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(frames.size()).c_str());
    std::vector<std::uint8_t> bytes;
    for (const cv::Mat& m : frames) {
        cv::Mat c = m.isContinuous() ? m : m.clone();
        bytes.insert(bytes.end(), c.datastart, c.dataend);
    }
    if (ct)
        ds->putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(bytes.data()),
                                    static_cast<unsigned long>(bytes.size() / 2));
    else
        ds->putAndInsertUint8Array(DCM_PixelData, bytes.data(), static_cast<unsigned long>(bytes.size()));
    file->getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, UID_LittleEndianExplicitTransferSyntax);
    ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    return file;
}

}  // namespace pixels_test
