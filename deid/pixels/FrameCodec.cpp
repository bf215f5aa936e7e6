#include "deid/pixels/FrameCodec.h"

#include <cstring>
#include <mutex>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
// Colour images for the JPEG / JPEG-LS encoders (they render through DicomImage, which needs
// dcmimage registered for RGB/YBR; without it they fail with "unsupported value for
// PhotometricInterpretation").
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include "deid/pixels/Jpeg2000Codec.h"

namespace deid::pixels {

namespace {

// Quality used when a lossy JPEG instance has to be re-encoded (see docs/pixels.md).
constexpr int kJpegQuality = 95;
// NEAR used when a JPEG-LS near-lossless instance has to be re-encoded.
constexpr Uint16 kJpegLsNear = 2;

// HTJ2K (Lossless, RPCL Lossless, HTJ2K): DCMTK 3.6.7 does not know these UIDs.
bool is_htj2k_uid(const std::string& uid) {
    return uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" || uid == "1.2.840.10008.1.2.4.203";
}

bool is_jpeg2000_or_video(E_TransferSyntax x) {
    switch (x) {
        case EXS_JPEG2000MulticomponentLosslessOnly:
        case EXS_JPEG2000Multicomponent: case EXS_JPIPReferenced: case EXS_JPIPReferencedDeflate:
        case EXS_MPEG2MainProfileAtMainLevel: case EXS_MPEG2MainProfileAtHighLevel:
        case EXS_MPEG4HighProfileLevel4_1: case EXS_MPEG4BDcompatibleHighProfileLevel4_1:
        case EXS_MPEG4HighProfileLevel4_2_For2DVideo: case EXS_MPEG4HighProfileLevel4_2_For3DVideo:
        case EXS_MPEG4StereoHighProfileLevel4_2: case EXS_HEVCMainProfileLevel5_1:
        case EXS_HEVCMain10ProfileLevel5_1:
            return true;
        default:
            return false;
    }
}

void read_palette(DcmDataset& ds, ImageLayout& layout) {
    const DcmTagKey desc[3] = {DCM_RedPaletteColorLookupTableDescriptor, DCM_GreenPaletteColorLookupTableDescriptor,
                               DCM_BluePaletteColorLookupTableDescriptor};
    const DcmTagKey data[3] = {DCM_RedPaletteColorLookupTableData, DCM_GreenPaletteColorLookupTableData,
                               DCM_BluePaletteColorLookupTableData};
    std::vector<std::vector<std::uint8_t>> channel(3);
    int first = 0;
    for (int c = 0; c < 3; ++c) {
        Uint16 entries = 0, first_mapped = 0, bits = 0;
        if (ds.findAndGetUint16(desc[c], entries, 0).bad() || ds.findAndGetUint16(desc[c], first_mapped, 1).bad() ||
            ds.findAndGetUint16(desc[c], bits, 2).bad())
            return;
        const long n = entries == 0 ? 65536 : entries;
        const Uint16* words = nullptr;
        unsigned long count = 0;
        if (ds.findAndGetUint16Array(data[c], words, &count).bad() || !words) return;  // e.g. segmented LUTs
        std::vector<std::uint8_t>& out = channel[c];
        out.resize(n);
        if (bits == 8 && static_cast<long>(count) * 2 >= n && static_cast<long>(count) < n) {
            const auto* b = reinterpret_cast<const std::uint8_t*>(words);  // two entries per word
            for (long i = 0; i < n; ++i) out[i] = b[i];
        } else if (static_cast<long>(count) >= n) {
            for (long i = 0; i < n; ++i) out[i] = bits == 8 ? static_cast<std::uint8_t>(words[i] & 0xff)
                                                            : static_cast<std::uint8_t>(words[i] >> 8);
        } else {
            return;
        }
        first = first_mapped;
    }
    if (channel[0].size() != channel[1].size() || channel[0].size() != channel[2].size()) return;
    layout.palette.resize(channel[0].size());
    for (std::size_t i = 0; i < channel[0].size(); ++i)
        layout.palette[i] = {channel[0][i], channel[1][i], channel[2][i]};
    layout.palette_first = first;
}

DcmPixelData* pixel_data(DcmDataset& ds) {
    DcmElement* el = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, el).bad() || !el) return nullptr;
    return dynamic_cast<DcmPixelData*>(el);
}

}  // namespace

void register_codecs() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Never a new SOP Instance UID: UIDs are the de-identifier's business.
        DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation, EUC_never);
        DJLSDecoderRegistration::registerCodecs(EJLSUC_never);
        DcmRLEDecoderRegistration::registerCodecs(OFFalse);
        DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never);
        DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, OFTrue, 0, OFTrue, EJLSUC_never);
        DcmRLEEncoderRegistration::registerCodecs(OFFalse);
    });
}

FrameCodec::FrameCodec(DcmDataset& dataset) : dataset_(dataset) {}
FrameCodec::FrameCodec(DcmDataset& dataset, std::string transfer_syntax_uid)
    : dataset_(dataset), meta_xfer_uid_(std::move(transfer_syntax_uid)) {}
FrameCodec::~FrameCodec() = default;

bool FrameCodec::lossy_source() const {
    if (jpeg2000_) return j2k_lossy_;
    return DcmXfer(static_cast<E_TransferSyntax>(original_xfer_)).isLossy();
}

std::string FrameCodec::transfer_syntax_name() const {
    if (htj2k_) return "HTJ2K";
    return DcmXfer(static_cast<E_TransferSyntax>(original_xfer_)).getXferName();
}

std::string FrameCodec::open() {
    const E_TransferSyntax xfer = dataset_.getOriginalXfer();
    original_xfer_ = xfer;
    // The file meta names JPEG 2000 too when the data set was re-encoded in memory (HTJ2K -> .90).
    // (Compared as strings: a DcmXfer made from a UID compares it with every syntax DCMTK knows.)
    const E_TransferSyntax meta = meta_xfer_uid_ == UID_JPEG2000LosslessOnlyTransferSyntax ? EXS_JPEG2000LosslessOnly
                                  : meta_xfer_uid_ == UID_JPEG2000TransferSyntax           ? EXS_JPEG2000
                                                                                           : EXS_Unknown;
    if (meta == EXS_JPEG2000LosslessOnly || meta == EXS_JPEG2000) original_xfer_ = meta;
    if (xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 || meta == EXS_JPEG2000LosslessOnly ||
        meta == EXS_JPEG2000 || is_htj2k_uid(meta_xfer_uid_)) {
        htj2k_ = is_htj2k_uid(meta_xfer_uid_);
        jpeg2000_ = true;
        return open_jpeg2000();
    }
    if (is_jpeg2000_or_video(xfer))
        return "pixel data in " + transfer_syntax_name() + " cannot be decoded by this build (no JPEG 2000/video codec)";
    const bool encapsulated = DcmXfer(xfer).isEncapsulated();
    // One walk over the data set finds the Image Pixel attributes and Pixel Data (read again after
    // decoding, which may rewrite them).
    DcmPixelData* original = scan_layout();
    if (!original) return "no Pixel Data";
    if (!encapsulated && original->getLengthField() == DCM_UndefinedLength)
        return "encapsulated pixel data in a transfer syntax this build does not know (e.g. HTJ2K) cannot be decoded";
    if (encapsulated) {
        saved_.clear();
        for (unsigned long i = 0; i < dataset_.card(); ++i) {
            DcmElement* el = dataset_.getElement(i);
            if (el && (el->getGTag() == 0x0028 || el->getTag() == DCM_PixelData))
                saved_.emplace_back(static_cast<DcmElement*>(el->clone()));
        }
        register_codecs();
        if (dataset_.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
            !dataset_.canWriteXfer(EXS_LittleEndianExplicit))
            return "pixel data in " + transfer_syntax_name() + " could not be decoded";
        original = scan_layout();
        if (!original) return "no Pixel Data";
    }
    if (std::string why = check_layout(); !why.empty()) return why;
    ImageLayout& l = layout_;

    // Uncompressed YBR_FULL_422: two pixels share one Cb and one Cr (Y1 Y2 Cb Cr), so a frame
    // holds 2 bytes per pixel; frame() expands it, store_frame() packs it again.
    ybr422_ = l.samples == 3 && l.photometric == "YBR_FULL_422" && !encapsulated;
    if (ybr422_ && (l.bits_allocated != 8 || l.columns % 2 != 0))
        return "uncompressed YBR_FULL_422 is supported with 8 bits and an even number of columns only";
    frame_bytes_ = ybr422_ ? static_cast<std::size_t>(l.rows) * l.columns * 2
                           : static_cast<std::size_t>(l.rows) * l.columns * l.samples * (l.bits_allocated / 8);
    const std::size_t total = frame_bytes_ * l.frames;
    DcmPixelData* px = original;
    if (l.bits_allocated == 8) {
        Uint8* p = nullptr;
        if (px->getUint8Array(p).bad() || !p || px->getLength() < total) return "Pixel Data shorter than its frames";
        borrowed_ = p;  // read in place; copied on the first store_frame()
    } else {
        Uint16* p = nullptr;
        if (px->getUint16Array(p).bad() || !p || px->getLength() < total) return "Pixel Data shorter than its frames";
        borrowed_ = reinterpret_cast<const std::uint8_t*>(p);  // read in place; copied on the first store_frame()
    }
    return {};
}

std::string FrameCodec::read_layout() {
    scan_layout();
    return check_layout();
}

DcmPixelData* FrameCodec::scan_layout() {
    // Each attribute read as findAndGetUint16 (else findAndGetSint32: Number of Frames is IS) and
    // findAndGetOFString would, found in one walk of the top level (elements are in tag order)
    // instead of one search from the list's start per tag.
    DcmElement* found[9] = {};
    enum { Samples, Photometric, Planar, Frames, Rows, Columns, Allocated, Stored, Representation };
    DcmPixelData* px = nullptr;
    for (DcmObject* o = dataset_.nextInContainer(nullptr); o; o = dataset_.nextInContainer(o)) {
        const DcmTagKey key = o->getTag();
        if (key.getGroup() < 0x0028) continue;
        if (key > DCM_PixelData) break;
        if (key == DCM_PixelData) {
            px = dynamic_cast<DcmPixelData*>(o);
            break;
        }
        if (key.getGroup() != 0x0028) continue;
        auto* el = static_cast<DcmElement*>(o);  // the top level of a data set holds elements only
        switch (key.getElement()) {
            case 0x0002: found[Samples] = el; break;
            case 0x0004: found[Photometric] = el; break;
            case 0x0006: found[Planar] = el; break;
            case 0x0008: found[Frames] = el; break;
            case 0x0010: found[Rows] = el; break;
            case 0x0011: found[Columns] = el; break;
            case 0x0100: found[Allocated] = el; break;
            case 0x0101: found[Stored] = el; break;
            case 0x0103: found[Representation] = el; break;
            default: break;
        }
    }
    auto get = [&](int which, long fallback) -> long {
        DcmElement* el = found[which];
        if (!el) return fallback;
        Uint16 u = 0;
        if (el->getUint16(u).good()) return u;
        Sint32 v = 0;
        if (el->getSint32(v).good()) return v;
        return fallback;
    };
    ImageLayout& l = layout_;
    l.rows = static_cast<int>(get(Rows, 0));
    l.columns = static_cast<int>(get(Columns, 0));
    l.samples = static_cast<int>(get(Samples, 1));
    l.bits_allocated = static_cast<int>(get(Allocated, 0));
    l.bits_stored = static_cast<int>(get(Stored, l.bits_allocated));
    l.pixel_representation = static_cast<int>(get(Representation, 0));
    l.planar = static_cast<int>(get(Planar, 0));
    l.frames = static_cast<int>(get(Frames, 1));
    if (l.frames < 1) l.frames = 1;
    OFString pi;
    if (found[Photometric]) found[Photometric]->getOFString(pi, 0);
    l.photometric = pi.c_str();
    return px;
}

std::string FrameCodec::check_layout() {
    ImageLayout& l = layout_;
    if (l.rows <= 0 || l.columns <= 0) return "missing Rows/Columns";
    if (l.bits_allocated != 8 && l.bits_allocated != 16)
        return "unsupported Bits Allocated " + std::to_string(l.bits_allocated);
    if (l.samples != 1 && l.samples != 3) return "unsupported Samples per Pixel " + std::to_string(l.samples);
    if (l.photometric == "PALETTE COLOR") read_palette(dataset_, l);
    return {};
}

void FrameCodec::restore_saved() {
    if (saved_.empty()) return;
    for (unsigned long i = dataset_.card(); i-- > 0;) {
        DcmElement* el = dataset_.getElement(i);
        if (el && (el->getGTag() == 0x0028 || el->getTag() == DCM_PixelData)) delete dataset_.remove(el);
    }
    for (std::unique_ptr<DcmElement>& el : saved_)
        if (dataset_.insert(el.get(), OFTrue).good()) el.release();
    saved_.clear();
}

std::string FrameCodec::open_jpeg2000() {
    DcmPixelData* px = pixel_data(dataset_);
    if (!px) return "no Pixel Data";
    saved_.clear();
    for (unsigned long i = 0; i < dataset_.card(); ++i) {
        DcmElement* el = dataset_.getElement(i);
        if (el && (el->getGTag() == 0x0028 || el->getTag() == DCM_PixelData))
            saved_.emplace_back(static_cast<DcmElement*>(el->clone()));
    }
    E_TransferSyntax key = EXS_Unknown;
    const DcmRepresentationParameter* key_param = nullptr;
    px->getOriginalRepresentationKey(key, key_param);
    DcmPixelSequence* seq = nullptr;
    if (px->getEncapsulatedRepresentation(key, key_param, seq).bad() || !seq)
        return "pixel data in " + transfer_syntax_name() + " is not encapsulated";
    if (std::string why = read_layout(); !why.empty()) return why;
    ImageLayout& l = layout_;
    OFString lossy;
    dataset_.findAndGetOFString(DCM_LossyImageCompression, lossy);
    // .90 and the HTJ2K lossless syntaxes are lossless; .91 and .203 may be either: the Lossy Image
    // Compression attribute says which (absent = treated as lossless, re-encoded reversibly).
    j2k_lossy_ = lossy == "01" && (static_cast<E_TransferSyntax>(original_xfer_) == EXS_JPEG2000 ||
                                   meta_xfer_uid_ == "1.2.840.10008.1.2.4.203");
    // Fragments into frames: a frame starts with a codestream's SOC marker (FF 4F) or a JP2
    // signature box; fragments in between continue it.
    std::vector<std::vector<std::uint8_t>> frames;
    for (unsigned long i = 1; i < seq->card(); ++i) {
        DcmPixelItem* item = nullptr;
        Uint8* data = nullptr;
        if (seq->getItem(item, i).bad() || !item || item->getUint8Array(data).bad()) continue;
        const Uint32 n = item->getLength();
        if (!data || n == 0) continue;
        const bool starts = (n >= 2 && data[0] == 0xFF && data[1] == 0x4F) ||
                            (n >= 8 && data[4] == 'j' && data[5] == 'P' && data[6] == ' ' && data[7] == ' ');
        if (starts || frames.empty()) frames.emplace_back();
        frames.back().insert(frames.back().end(), data, data + n);
    }
    if (static_cast<int>(frames.size()) < l.frames) return "JPEG 2000 pixel data holds fewer frames than Number of Frames";
    Jpeg2000Frame f;
    f.rows = l.rows, f.columns = l.columns, f.samples = l.samples;
    f.bits_allocated = l.bits_allocated, f.bits_stored = l.bits_stored, f.is_signed = l.pixel_representation != 0;
    frame_bytes_ = static_cast<std::size_t>(l.rows) * l.columns * l.samples * (l.bits_allocated / 8);
    bytes_.assign(frame_bytes_ * l.frames, 0);
    for (int i = 0; i < l.frames; ++i)
        if (std::string why = Jpeg2000Codec::decode(frames[i].data(), frames[i].size(), f, bytes_.data() + frame_bytes_ * i);
            !why.empty())
            return why + " (frame " + std::to_string(i + 1) + ")";
    // OpenJPEG undoes the multiple-component transform and returns samples by pixel.
    l.planar = 0;
    if (l.samples == 3 && (l.photometric == "YBR_RCT" || l.photometric == "YBR_ICT")) l.photometric = "RGB";
    return {};
}

std::string FrameCodec::commit_jpeg2000(bool changed) {
    // HTJ2K cannot stay HTJ2K (OpenJPEG 2.5.0 has no HTJ2K encoder, DCMTK 3.6.7 cannot write the
    // syntax): it is always re-encoded as JPEG 2000. Otherwise an untouched instance keeps its bytes.
    if (!changed && !htj2k_) {
        restore_saved();
        return {};
    }
    const ImageLayout& l = layout_;
    Jpeg2000Frame f;
    f.rows = l.rows, f.columns = l.columns, f.samples = l.samples;
    f.bits_allocated = l.bits_allocated, f.bits_stored = l.bits_stored, f.is_signed = l.pixel_representation != 0;
    auto* seq = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
    seq->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty Basic Offset Table
    DcmOffsetList offsets;
    std::vector<std::uint8_t> code;
    for (int i = 0; i < l.frames; ++i) {
        if (std::string why = Jpeg2000Codec::encode(bytes_.data() + frame_bytes_ * i, f, !j2k_lossy_, false, code);
            !why.empty()) {
            delete seq;
            return "cleaned pixel data could not be re-encoded as JPEG 2000: " + why;
        }
        if (code.size() % 2) code.push_back(0);  // fragments have even length
        if (seq->storeCompressedFrame(offsets, code.data(), static_cast<Uint32>(code.size()), 0).bad()) {
            delete seq;
            return "cleaned pixel data could not be stored as JPEG 2000";
        }
    }
    const E_TransferSyntax out = j2k_lossy_ ? EXS_JPEG2000 : EXS_JPEG2000LosslessOnly;
    DcmPixelData* px = pixel_data(dataset_);
    px->putOriginalRepresentation(out, nullptr, seq);
    // Samples by pixel, no multiple-component transform: RGB stays RGB.
    if (l.samples == 3) {
        dataset_.putAndInsertString(DCM_PhotometricInterpretation, l.photometric.c_str());
        dataset_.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    }
    if (out != static_cast<E_TransferSyntax>(original_xfer_) || htj2k_) new_xfer_ = out;
    saved_.clear();
    return {};
}

const std::uint8_t* FrameCodec::pixels() const { return bytes_.empty() && borrowed_ ? borrowed_ : bytes_.data(); }

std::uint8_t* FrameCodec::writable_pixels() {
    if (bytes_.empty() && borrowed_) bytes_.assign(borrowed_, borrowed_ + frame_bytes_ * layout_.frames);
    return bytes_.data();
}

cv::Mat FrameCodec::view(int index) const {
    const ImageLayout& l = layout_;
    if (ybr422_ || l.samples != 1) return frame(index);
    const int depth = l.bits_allocated == 8 ? CV_8U : (l.pixel_representation ? CV_16S : CV_16U);
    return cv::Mat(l.rows, l.columns, CV_MAKETYPE(depth, 1), const_cast<std::uint8_t*>(pixels() + frame_bytes_ * index));
}

cv::Mat FrameCodec::frame(int index) const {
    const ImageLayout& l = layout_;
    const std::uint8_t* src = pixels() + frame_bytes_ * index;
    if (ybr422_) {
        cv::Mat out(l.rows, l.columns, CV_8UC3);
        for (int y = 0; y < l.rows; ++y) {
            const std::uint8_t* s = src + static_cast<std::size_t>(y) * l.columns * 2;
            auto* d = out.ptr<cv::Vec3b>(y);
            for (int x = 0; x < l.columns; x += 2, s += 4) {
                d[x] = cv::Vec3b(s[0], s[2], s[3]);
                d[x + 1] = cv::Vec3b(s[1], s[2], s[3]);
            }
        }
        return out;
    }
    int depth = l.bits_allocated == 8 ? CV_8U : (l.pixel_representation ? CV_16S : CV_16U);
    if (l.samples == 1) return cv::Mat(l.rows, l.columns, CV_MAKETYPE(depth, 1), const_cast<std::uint8_t*>(src)).clone();
    if (l.planar == 0) return cv::Mat(l.rows, l.columns, CV_MAKETYPE(depth, 3), const_cast<std::uint8_t*>(src)).clone();
    const std::size_t plane = frame_bytes_ / 3;
    std::vector<cv::Mat> planes;
    for (int c = 0; c < 3; ++c)
        planes.emplace_back(l.rows, l.columns, CV_MAKETYPE(depth, 1), const_cast<std::uint8_t*>(src + plane * c));
    cv::Mat out;
    cv::merge(planes, out);
    return out;
}

void FrameCodec::store_frame(int index, const cv::Mat& m) {
    const ImageLayout& l = layout_;
    std::uint8_t* dst = writable_pixels() + frame_bytes_ * index;
    CV_Assert(m.rows == l.rows && m.cols == l.columns && m.channels() == l.samples && m.isContinuous());
    if (ybr422_) {
        // A pair whose two pixels were not changed keeps its Cb/Cr exactly (mean of equal values).
        for (int y = 0; y < l.rows; ++y) {
            std::uint8_t* d = dst + static_cast<std::size_t>(y) * l.columns * 2;
            const auto* s = m.ptr<cv::Vec3b>(y);
            for (int x = 0; x < l.columns; x += 2, d += 4) {
                d[0] = s[x][0];
                d[1] = s[x + 1][0];
                d[2] = static_cast<std::uint8_t>((s[x][1] + s[x + 1][1] + 1) / 2);
                d[3] = static_cast<std::uint8_t>((s[x][2] + s[x + 1][2] + 1) / 2);
            }
        }
        return;
    }
    if (l.samples == 1 || l.planar == 0) {
        std::memcpy(dst, m.data, frame_bytes_);
        return;
    }
    const std::size_t plane = frame_bytes_ / 3;
    std::vector<cv::Mat> planes;
    for (int c = 0; c < 3; ++c) planes.emplace_back(l.rows, l.columns, CV_MAKETYPE(m.depth(), 1), dst + plane * c);
    cv::split(m, planes);  // writes into the preallocated planes
}

std::string FrameCodec::commit(bool changed) {
    if (jpeg2000_) return commit_jpeg2000(changed);
    const auto xfer = static_cast<E_TransferSyntax>(original_xfer_);
    // Nothing changed in uncompressed (or never decoded) pixel data: nothing to put back, no look-up.
    if (!changed && saved_.empty()) return {};
    DcmPixelData* px = pixel_data(dataset_);
    if (!px) return changed ? "no Pixel Data" : "";
    const bool encapsulated = DcmXfer(xfer).isEncapsulated();
    if (!changed) {
        if (encapsulated && !saved_.empty()) {  // empty: never decoded, nothing to put back
            // The original compressed pixel data and attributes go back untouched: no
            // generation loss, no attribute rewritten by the decoder.
            for (unsigned long i = dataset_.card(); i-- > 0;) {
                DcmElement* el = dataset_.getElement(i);
                if (el && (el->getGTag() == 0x0028 || el->getTag() == DCM_PixelData)) delete dataset_.remove(el);
            }
            for (std::unique_ptr<DcmElement>& el : saved_)
                if (dataset_.insert(el.get(), OFTrue).good()) el.release();
                else return "could not restore the original pixel data";
            saved_.clear();
        }
        return {};
    }
    writable_pixels();
    OFCondition cond;
    if (layout_.bits_allocated == 8)
        cond = px->putUint8Array(bytes_.data(), static_cast<unsigned long>(bytes_.size()));
    else
        cond = px->putUint16Array(reinterpret_cast<const Uint16*>(bytes_.data()),
                                  static_cast<unsigned long>(bytes_.size() / 2));
    if (cond.bad()) return "could not store the cleaned pixel data";
    if (!encapsulated) return {};

    register_codecs();
    DJ_RPLossy lossy(kJpegQuality);
    DJ_RPLossless lossless(1, 0);
    DJLSRepresentationParameter jls_lossless(0, OFTrue);
    DJLSRepresentationParameter jls_near(kJpegLsNear, OFFalse);
    DcmRLERepresentationParameter rle;
    const DcmRepresentationParameter* param = nullptr;
    switch (xfer) {
        case EXS_JPEGProcess1: case EXS_JPEGProcess2_4: param = &lossy; break;
        case EXS_JPEGProcess14: case EXS_JPEGProcess14SV1: param = &lossless; break;
        case EXS_JPEGLSLossless: param = &jls_lossless; break;
        case EXS_JPEGLSLossy: param = &jls_near; break;
        case EXS_RLELossless: param = &rle; break;
        default:
            return "cleaned pixel data cannot be re-encoded in " + transfer_syntax_name();
    }
    if (dataset_.chooseRepresentation(xfer, param).bad() || !dataset_.canWriteXfer(xfer))
        return "cleaned pixel data could not be re-encoded in " + transfer_syntax_name();
    px->removeAllButCurrentRepresentations();
    return {};
}

}  // namespace deid::pixels
