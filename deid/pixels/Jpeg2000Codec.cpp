#include "deid/pixels/Jpeg2000Codec.h"

#include <openjpeg.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace deid::pixels {

namespace {

// Compression ratio of an irreversible (lossy) re-encoding (docs/pixels.md).
constexpr float kLossyRatio = 10.0f;

// An OpenJPEG stream over a byte buffer (reading) or a growing vector (writing).
struct Buffer {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0, pos = 0;
    std::vector<std::uint8_t>* sink = nullptr;
};

OPJ_SIZE_T read_fn(void* dst, OPJ_SIZE_T n, void* user) {
    auto* b = static_cast<Buffer*>(user);
    if (b->pos >= b->size) return static_cast<OPJ_SIZE_T>(-1);
    const std::size_t k = std::min<std::size_t>(n, b->size - b->pos);
    std::memcpy(dst, b->data + b->pos, k);
    b->pos += k;
    return k;
}

OPJ_SIZE_T write_fn(void* src, OPJ_SIZE_T n, void* user) {
    auto* b = static_cast<Buffer*>(user);
    if (b->sink->size() < b->pos + n) b->sink->resize(b->pos + n);
    std::memcpy(b->sink->data() + b->pos, src, n);
    b->pos += n;
    return n;
}

OPJ_OFF_T skip_fn(OPJ_OFF_T n, void* user) {
    auto* b = static_cast<Buffer*>(user);
    const std::size_t limit = b->sink ? static_cast<std::size_t>(-1) / 2 : b->size;
    const OPJ_OFF_T target = std::clamp<OPJ_OFF_T>(static_cast<OPJ_OFF_T>(b->pos) + n, 0, static_cast<OPJ_OFF_T>(limit));
    const OPJ_OFF_T moved = target - static_cast<OPJ_OFF_T>(b->pos);
    b->pos = static_cast<std::size_t>(target);
    return moved;
}

OPJ_BOOL seek_fn(OPJ_OFF_T n, void* user) {
    auto* b = static_cast<Buffer*>(user);
    if (n < 0 || (!b->sink && static_cast<std::size_t>(n) > b->size)) return OPJ_FALSE;
    b->pos = static_cast<std::size_t>(n);
    return OPJ_TRUE;
}

void quiet(const char*, void*) {}

// opj_codec_t and opj_stream_t are both `void`: owned through small wrappers.
struct Codec {
    opj_codec_t* p = nullptr;
    explicit Codec(opj_codec_t* c) : p(c) {}
    ~Codec() { if (p) opj_destroy_codec(p); }
    Codec(const Codec&) = delete;
    Codec& operator=(const Codec&) = delete;
    opj_codec_t* get() const { return p; }
    explicit operator bool() const { return p != nullptr; }
};
struct Stream {
    opj_stream_t* p = nullptr;
    explicit Stream(opj_stream_t* s) : p(s) {}
    ~Stream() { reset(); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    void reset() { if (p) opj_stream_destroy(p); p = nullptr; }
    opj_stream_t* get() const { return p; }
    explicit operator bool() const { return p != nullptr; }
};
struct ImageDeleter {
    void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};
using Image = std::unique_ptr<opj_image_t, ImageDeleter>;

opj_stream_t* make_stream(Buffer& b, bool input) {
    opj_stream_t* s = opj_stream_create(1 << 16, input ? OPJ_TRUE : OPJ_FALSE);
    if (!s) return nullptr;
    opj_stream_set_user_data(s, &b, nullptr);
    if (input) {
        opj_stream_set_user_data_length(s, b.size);
        opj_stream_set_read_function(s, read_fn);
    } else {
        opj_stream_set_write_function(s, write_fn);
    }
    opj_stream_set_skip_function(s, skip_fn);
    opj_stream_set_seek_function(s, seek_fn);
    return s;
}

}  // namespace

std::string Jpeg2000Codec::decode(const std::uint8_t* data, std::size_t size, const Jpeg2000Frame& f,
                                  std::uint8_t* out) {
    if (size < 12) return "JPEG 2000 frame too short";
    // A JP2 file starts with a signature box; DICOM normally holds a bare codestream (FF 4F FF 51).
    static const std::uint8_t jp2_signature[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' '};
    const bool jp2 = std::memcmp(data, jp2_signature, sizeof jp2_signature) == 0;
    Codec codec(opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
    if (!codec) return "JPEG 2000 decoder unavailable";
    opj_set_error_handler(codec.get(), quiet, nullptr);
    opj_set_warning_handler(codec.get(), quiet, nullptr);
    opj_set_info_handler(codec.get(), quiet, nullptr);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec.get(), &params)) return "JPEG 2000 decoder setup failed";
    opj_codec_set_threads(codec.get(), 1);  // the gateway's workers are the parallelism
    Buffer b{data, size, 0, nullptr};
    Stream stream(make_stream(b, true));
    if (!stream) return "JPEG 2000 stream setup failed";
    opj_image_t* raw = nullptr;
    if (!opj_read_header(stream.get(), codec.get(), &raw)) return "JPEG 2000 header not readable";
    Image image(raw);
    if (!opj_decode(codec.get(), stream.get(), image.get()) || !opj_end_decompress(codec.get(), stream.get()))
        return "JPEG 2000 frame not decodable";
    if (static_cast<int>(image->numcomps) < f.samples) return "JPEG 2000 frame has fewer components than Samples per Pixel";
    for (int c = 0; c < f.samples; ++c) {
        const opj_image_comp_t& comp = image->comps[c];
        if (static_cast<int>(comp.w) != f.columns || static_cast<int>(comp.h) != f.rows || comp.dx != 1 || comp.dy != 1 ||
            !comp.data)
            return "JPEG 2000 frame size differs from Rows/Columns";
    }
    const std::size_t pixels = static_cast<std::size_t>(f.rows) * f.columns;
    for (int c = 0; c < f.samples; ++c) {
        const OPJ_INT32* src = image->comps[c].data;
        if (f.bits_allocated == 8) {
            for (std::size_t i = 0; i < pixels; ++i)
                out[i * f.samples + c] = static_cast<std::uint8_t>(std::clamp<OPJ_INT32>(src[i], 0, 255));
        } else {
            auto* o = reinterpret_cast<std::uint16_t*>(out);
            for (std::size_t i = 0; i < pixels; ++i)
                o[i * f.samples + c] = f.is_signed ? static_cast<std::uint16_t>(static_cast<std::int16_t>(
                                                         std::clamp<OPJ_INT32>(src[i], -32768, 32767)))
                                                   : static_cast<std::uint16_t>(std::clamp<OPJ_INT32>(src[i], 0, 65535));
        }
    }
    return {};
}

std::string Jpeg2000Codec::encode(const std::uint8_t* in, const Jpeg2000Frame& f, bool lossless, bool colour_transform,
                                  std::vector<std::uint8_t>& out) {
    std::vector<opj_image_cmptparm_t> parms(f.samples);
    for (opj_image_cmptparm_t& p : parms) {
        std::memset(&p, 0, sizeof p);
        p.dx = p.dy = 1;
        p.w = static_cast<OPJ_UINT32>(f.columns);
        p.h = static_cast<OPJ_UINT32>(f.rows);
        p.prec = static_cast<OPJ_UINT32>(f.bits_stored);
        p.sgnd = f.is_signed ? 1 : 0;
    }
    Image image(opj_image_create(static_cast<OPJ_UINT32>(f.samples), parms.data(),
                                              f.samples == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY));
    if (!image) return "JPEG 2000 image allocation failed";
    image->x0 = image->y0 = 0;
    image->x1 = static_cast<OPJ_UINT32>(f.columns);
    image->y1 = static_cast<OPJ_UINT32>(f.rows);
    const std::size_t pixels = static_cast<std::size_t>(f.rows) * f.columns;
    const int shift = 32 - f.bits_stored;
    for (int c = 0; c < f.samples; ++c) {
        OPJ_INT32* dst = image->comps[c].data;
        for (std::size_t i = 0; i < pixels; ++i) {
            std::int32_t v;
            if (f.bits_allocated == 8) v = in[i * f.samples + c];
            else v = reinterpret_cast<const std::uint16_t*>(in)[i * f.samples + c];
            // Only the stored bits (sign-extended when signed): values outside Bits Stored would
            // not survive the codestream's precision.
            if (f.is_signed) v = static_cast<std::int32_t>(static_cast<std::uint32_t>(v) << shift) >> shift;
            else v &= static_cast<std::int32_t>((1u << f.bits_stored) - 1);
            dst[i] = v;
        }
    }
    opj_cparameters_t params;
    opj_set_default_encoder_parameters(&params);
    params.tcp_numlayers = 1;
    params.cp_disto_alloc = 1;
    params.tcp_rates[0] = lossless ? 0.0f : kLossyRatio;
    params.irreversible = lossless ? 0 : 1;
    params.tcp_mct = (f.samples == 3 && colour_transform) ? 1 : 0;
    params.numresolution = std::max(1, std::min(6, static_cast<int>(std::log2(std::max(1, std::min(f.rows, f.columns)))) - 2));
    Codec codec(opj_create_compress(OPJ_CODEC_J2K));
    if (!codec) return "JPEG 2000 encoder unavailable";
    opj_set_error_handler(codec.get(), quiet, nullptr);
    opj_set_warning_handler(codec.get(), quiet, nullptr);
    opj_set_info_handler(codec.get(), quiet, nullptr);
    if (!opj_setup_encoder(codec.get(), &params, image.get())) return "JPEG 2000 encoder setup failed";
    out.clear();
    Buffer b{nullptr, 0, 0, &out};
    Stream stream(make_stream(b, false));
    if (!stream) return "JPEG 2000 stream setup failed";
    if (!opj_start_compress(codec.get(), image.get(), stream.get()) || !opj_encode(codec.get(), stream.get()) ||
        !opj_end_compress(codec.get(), stream.get()))
        return "JPEG 2000 encoding failed";
    stream.reset();
    return {};
}

}  // namespace deid::pixels
