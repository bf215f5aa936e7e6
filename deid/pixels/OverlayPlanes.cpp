#include "deid/pixels/OverlayPlanes.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>

#include <algorithm>
#include <cstdlib>

namespace deid::pixels {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "OW overlay bytes are read in host order");

namespace {

// The bytes of Overlay Data, OB or OW (OW words are held in host order; on a little-endian host
// their bytes are the little-endian stream the bits are counted in).
Uint8* bytes_of(DcmElement& data) {
    Uint8* b = nullptr;
    if (data.getVR() != EVR_OW && data.getUint8Array(b).good() && b) return b;
    Uint16* w = nullptr;
    if (data.getUint16Array(w).good() && w) return reinterpret_cast<Uint8*>(w);
    return nullptr;
}

bool get_u16(DcmDataset& ds, std::uint16_t g, std::uint16_t e, Uint16& out) {
    return ds.findAndGetUint16(DcmTagKey(g, e), out).good();
}

}  // namespace

const std::vector<std::uint16_t>& OverlayPlanes::groups() {
    if (walked_) return groups_;
    walked_ = true;
    for (DcmObject* o = dataset_.nextInContainer(nullptr); o; o = dataset_.nextInContainer(o)) {
        const std::uint16_t g = o->getGTag();
        if (g > 0x601E) break;  // elements are in tag order
        if (g >= 0x6000 && g % 2 == 0 && (groups_.empty() || groups_.back() != g)) groups_.push_back(g);
    }
    return groups_;
}

std::vector<OverlayPlane> OverlayPlanes::read() {
    std::vector<OverlayPlane> out;
    unreadable_.clear();
    for (std::uint16_t g : groups()) {
        DcmElement* data = nullptr;
        if (dataset_.findAndGetElement(DcmTagKey(g, 0x3000), data).bad() || !data) continue;
        Uint16 rows = 0, columns = 0, bits = 1, position = 0;
        get_u16(dataset_, g, 0x0010, rows);
        get_u16(dataset_, g, 0x0011, columns);
        get_u16(dataset_, g, 0x0100, bits);
        get_u16(dataset_, g, 0x0102, position);
        OFString frames_text;
        long frames = 1;
        if (dataset_.findAndGetOFString(DcmTagKey(g, 0x0015), frames_text).good() && !frames_text.empty())
            frames = std::atol(frames_text.c_str());
        Uint8* bytes = bytes_of(*data);
        const unsigned long length = data->getLength();
        const std::size_t bits_needed = static_cast<std::size_t>(rows) * columns * static_cast<std::size_t>(frames);
        if (rows == 0 || columns == 0 || frames < 1 || frames > 65535 || bits != 1 || position != 0 ||
            !bytes || length * 8 < bits_needed) {
            unreadable_.push_back(g);
            continue;
        }
        OverlayPlane p;
        p.group = g, p.rows = rows, p.columns = columns, p.frames = static_cast<int>(frames);
        // Bits run through the frames without padding, the least significant bit of each byte first.
        std::size_t bit = 0;
        for (long f = 0; f < frames; ++f) {
            cv::Mat m(rows, columns, CV_8UC1);
            for (int y = 0; y < rows; ++y) {
                auto* row = m.ptr<std::uint8_t>(y);
                for (int x = 0; x < columns; ++x, ++bit) row[x] = (bytes[bit >> 3] >> (bit & 7)) & 1 ? 255 : 0;
            }
            p.pictures.push_back(m);
        }
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<std::pair<std::uint16_t, int>> OverlayPlanes::embedded() {
    std::vector<std::pair<std::uint16_t, int>> out;
    for (std::uint16_t g : groups()) {
        if (dataset_.tagExists(DcmTagKey(g, 0x3000))) continue;
        Uint16 position = 0, rows = 0;
        // Overlay Rows and Bit Position without Overlay Data: the overlay is in Pixel Data.
        if (!get_u16(dataset_, g, 0x0010, rows) || !get_u16(dataset_, g, 0x0102, position)) continue;
        if (position < 16) out.emplace_back(g, position);
    }
    return out;
}

std::string OverlayPlanes::write(const OverlayPlane& p) {
    const std::size_t bits = static_cast<std::size_t>(p.rows) * p.columns * p.pictures.size();
    std::vector<Uint8> bytes((bits + 7) / 8 + ((bits + 7) / 8) % 2, 0);  // even length
    std::size_t bit = 0;
    for (const cv::Mat& m : p.pictures)
        for (int y = 0; y < p.rows; ++y) {
            const auto* row = m.ptr<std::uint8_t>(y);
            for (int x = 0; x < p.columns; ++x, ++bit)
                if (row[x]) bytes[bit >> 3] |= static_cast<Uint8>(1u << (bit & 7));
        }
    DcmElement* data = nullptr;
    if (dataset_.findAndGetElement(DcmTagKey(p.group, 0x3000), data).bad() || !data) return "overlay data vanished";
    const OFCondition stored = data->getVR() == EVR_OW
                                   ? data->putUint16Array(reinterpret_cast<const Uint16*>(bytes.data()),
                                                          static_cast<unsigned long>(bytes.size() / 2))
                                   : data->putUint8Array(bytes.data(), static_cast<unsigned long>(bytes.size()));
    if (stored.bad())
        return "cleaned overlay data could not be stored";
    return {};
}

void OverlayPlanes::remove(std::uint16_t group) {
    groups_.erase(std::remove(groups_.begin(), groups_.end(), group), groups_.end());
    for (unsigned long i = dataset_.card(); i-- > 0;) {
        DcmElement* el = dataset_.getElement(i);
        if (el && el->getGTag() == group) delete dataset_.remove(el);
    }
}

}  // namespace deid::pixels
