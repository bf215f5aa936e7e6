#include "deid/InstanceDeidentifier.h"

#include "common/WriteAll.h"
#include "deid/DcmValues.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcwcache.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "deid/Conditions.h"
#include "deid/Deidentify.h"
#include "deid/Profile.h"
#include "deid/Verifier.h"
#include "deid/pixels/PixelCleaner.h"

namespace deid {

namespace {

Outcome make(Outcome::Kind kind, std::string reason, std::string detail) {
    Outcome o;
    o.kind = kind;
    o.reason = std::move(reason);
    o.detail = std::move(detail);
    return o;
}

std::string directory_of(const std::string& path) {
    std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

bool fsync_path(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// Writes `file` over whatever `path` holds without truncating it first (ext4 starts writeback on
// the close of a file truncated to zero: a short-lived output would go to disk), then cuts it to
// the written length. Same encoding as saveFile (DCMTK encodes into a buffer, as its DIMSE layer
// does for the network, and the buffer goes out in one write(2) whenever it is full or the file
// is done: no stdio call per tag, length and value); on a failure `path` is removed.
// With `memory`, the encoded bytes are kept there instead while they total at most `memory_limit`:
// an output that stays within it is not written at all (`path` is not touched); a larger one is
// written to `path` from its first byte, and `memory` is left empty.
OFCondition write_file_in_place(DcmFileFormat& file, E_TransferSyntax xfer, const std::string& path,
                                std::uint64_t& written, std::string* memory, std::size_t memory_limit) {
    int fd = -1;
    const auto open_output = [&] {
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        return fd >= 0;
    };
    if (memory) {
        // Room for the pixel data and the rest up front: one copy of the bytes, not one per growth.
        memory->clear();
        std::size_t estimate = 64 * 1024;
        DcmElement* pixels = nullptr;
        if (file.getDataset()->findAndGetElement(DCM_PixelData, pixels).good() && pixels)
            estimate += pixels->getLength();
        memory->reserve(std::min(estimate, memory_limit));
    }
    if (!memory && !open_output()) return EC_InvalidStream;
    // A small instance fits whole; a larger one goes out in pieces of this size.
    constexpr std::size_t kBufferSize = 64 * 1024;
    std::unique_ptr<char[]> buffer(new char[kBufferSize]);
    OFCondition c;
    std::uint64_t total = 0;
    {
        // EGL_noChange: the engine removes every group length (deid/Deidentify.cpp), so there is
        // none to recalculate, and DCMTK skips its length pass; the file meta group length is
        // DCMTK's own on every write.
        DcmWriteCache cache;
        DcmOutputBufferStream stream(buffer.get(), kBufferSize);
        file.transferInit();
        for (bool last = false; !last;) {
            c = file.write(stream, xfer, EET_ExplicitLength, &cache, EGL_noChange, EPD_noChange, 0, 0, 0,
                           EWM_fileformat);
            if (c == EC_StreamNotifyClient) c = EC_Normal;  // the buffer is full: written out, then on
            else if (c.good()) last = true;
            else break;
            if (last) stream.flush();
            void* data = nullptr;
            offile_off_t length = 0;
            stream.flushBuffer(data, length);
            total += static_cast<std::uint64_t>(length);
            if (length <= 0) continue;
            if (fd < 0 && total <= memory_limit) {
                memory->append(static_cast<const char*>(data), static_cast<std::size_t>(length));
                continue;
            }
            if (fd < 0) {  // over the limit: what was kept goes first
                if (!open_output() || !common::write_all(fd, memory->data(), memory->size())) {
                    c = EC_InvalidStream;
                    break;
                }
                memory->clear();
                memory->shrink_to_fit();
            }
            if (!common::write_all(fd, data, static_cast<std::size_t>(length))) {
                c = EC_InvalidStream;
                break;
            }
        }
        file.transferEnd();
    }
    if (fd >= 0) {
        if (c.good() && ::ftruncate(fd, static_cast<off_t>(total)) != 0) c = EC_InvalidStream;
        if (::close(fd) != 0 && c.good()) c = EC_InvalidStream;
    }
    if (c.good()) written = total;
    else if (memory) memory->clear();
    return c;
}

std::string write_in_place(DcmFileFormat& file, E_TransferSyntax& xfer, const std::string& path,
                           std::uint64_t& written, std::string* memory, std::size_t memory_limit) {
    OFCondition c = write_file_in_place(file, xfer, path, written, memory, memory_limit);
    if (c == EC_RepresentationNotFound && xfer == EXS_DeflatedLittleEndianExplicit) {
        xfer = EXS_LittleEndianExplicit;
        c = write_file_in_place(file, xfer, path, written, memory, memory_limit);
    }
    if (c.bad()) {
        ::unlink(path.c_str());
        if (c == EC_RepresentationNotFound) return "unsupported: the pixel data cannot be written in its transfer syntax";
        return std::string("cannot write the output: ") + c.text();
    }
    return "";
}

// Writes `file` to `output_path` through a temporary file in the same folder: write, fsync,
// rename, fsync the folder (the fsyncs only when `durable`). Returns an empty string or why it
// failed (no PHI: paths are ours).
std::string write_atomically(DcmFileFormat& file, E_TransferSyntax& xfer, const std::string& output_path,
                             bool durable, bool in_place, std::uint64_t& written, std::string* memory,
                             std::size_t memory_limit) {
    const std::string dir = directory_of(output_path);
    if (in_place && !durable) return write_in_place(file, xfer, output_path, written, memory, memory_limit);
    std::string tmp = dir + "/.deid-write-XXXXXX";
    int fd = ::mkstemp(&tmp[0]);
    if (fd < 0) return std::string("cannot create a temporary file in the output folder: ") + std::strerror(errno);
    ::close(fd);
    OFCondition c = file.saveFile(tmp.c_str(), xfer, EET_ExplicitLength, EGL_noChange, EPD_noChange,
                                  0, 0, EWM_fileformat);
    if (c == EC_RepresentationNotFound && xfer == EXS_DeflatedLittleEndianExplicit) {
        // Deflate is a lossless wrapper around native pixels: written as explicit little endian.
        xfer = EXS_LittleEndianExplicit;
        c = file.saveFile(tmp.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_noChange, EPD_noChange,
                          0, 0, EWM_fileformat);
    }
    if (c.bad()) {
        ::unlink(tmp.c_str());
        if (c == EC_RepresentationNotFound)
            return "unsupported: the pixel data cannot be written in its transfer syntax";
        return std::string("cannot write the output: ") + c.text();
    }
    if (durable && !fsync_path(tmp, O_RDONLY)) {
        ::unlink(tmp.c_str());
        return std::string("cannot fsync the output: ") + std::strerror(errno);
    }
    if (::rename(tmp.c_str(), output_path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return std::string("cannot rename the output into place: ") + std::strerror(err);
    }
    if (durable) fsync_path(dir, O_RDONLY | O_DIRECTORY);
    return "";
}

// True when every value of a DS element is [-]digits[.digits] of at most 16 characters, the
// whole value padded with spaces at most: a subset of PS3.5's Decimal String that needs no
// further check (the rest goes to DCMTK).
bool plain_decimals(DcmElement* e) {
    char* value = nullptr;
    if (e->getString(value).bad() || value == nullptr) return false;
    Uint32 n = e->getLength();
    while (n > 0 && value[n - 1] == ' ') --n;  // the padding of an odd-length value
    Uint32 start = 0;
    for (Uint32 k = 0; k <= n; ++k) {
        if (k < n && value[k] != '\\') continue;
        Uint32 i = start;
        if (i < k && value[i] == '-') ++i;
        Uint32 digits = 0, point = 0, after = 0;
        for (; i < k; ++i) {
            const char c = value[i];
            if (c >= '0' && c <= '9') {
                ++digits;
                if (point) ++after;
            } else if (c == '.' && !point && digits > 0) {
                point = 1;
            } else {
                return false;
            }
        }
        if (digits == 0 || (point && after == 0) || k - start > 16) return false;
        start = k + 1;
    }
    return true;
}

// Strict reading: DCMTK is lenient, it repairs what it can and keeps values that do not conform
// to their VR. An instance is malformed (returns why, naming the tag, never the value) when
//  - an element had a non-standard VR code in an explicit VR data set (DCMTK guessed the length
//    field size and typed it "unknown": EVR_UNKNOWN2B anywhere; EVR_UNKNOWN at the top level,
//    where an explicit VR data set cannot legitimately hold it; nested, EVR_UNKNOWN is also what
//    an unknown private tag inside an implicit VR (CP-246) sequence gets, so it is left alone);
//  - an IS or DS value is not a number (DCMTK's VR checker), or a UI value holds other
//    characters than UID ones: the engine and the pixel cleaner interpret these values (Number of
//    Frames, Rows, ..., UIDs to remap and references to keep).
// Dates, times, ages and text with old or sloppy formats are not checked: the profile replaces,
// shifts or removes those values anyway.
std::string first_invalid_element(DcmItem& item, bool explicit_vr_top_level) {
    // nextInContainer, not getElement(i): DcmList::seek_to walks from the first element every time.
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        DcmElement* e = static_cast<DcmElement*>(o);
        if (e == nullptr) continue;
        // The tag's text only for the answer (formatting it for every element cost more than the check).
        const auto tag = [e] { return std::string(e->getTag().toString().c_str()); };
        switch (e->ident()) {
            case EVR_UNKNOWN2B:
                return "non-standard VR code in " + tag();
            case EVR_UNKNOWN:
                if (explicit_vr_top_level) return "non-standard VR code in " + tag();
                break;
            case EVR_SQ: {
                auto* seq = static_cast<DcmSequenceOfItems*>(e);
                for (unsigned long k = 0; k < seq->card(); ++k)
                    if (DcmItem* nested = seq->getItem(k)) {
                        std::string bad = first_invalid_element(*nested, false);
                        if (!bad.empty()) return bad;
                    }
                break;
            }
            case EVR_DS:
                // Plain decimals ("-174", "0.5") are valid whatever else the grammar allows; any
                // other value goes to DCMTK's own VR checker.
                if (plain_decimals(e)) break;
                // fall through
            case EVR_IS:
                // DCMTK's own VR checker (any VM: only the value format matters here).
                if (e->getLength() > 0 && e->checkValue("1-n").bad()) return "value not valid for its VR in " + tag();
                break;
            case EVR_UI: {
                char* value = nullptr;
                if (e->getString(value).bad() || value == nullptr) break;
                const Uint32 n = e->getLength();
                for (Uint32 k = 0; k < n && value[k] != '\0'; ++k) {
                    const char ch = value[k];
                    // PS3.5 Table 6.2-1: "0"-"9" and "." (padding and the value separator allowed).
                    if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '\\' || ch == ' '))
                        return "value not valid for its VR in " + tag();
                }
                break;
            }
            default:
                break;
        }
    }
    return "";
}

}  // namespace

struct InstanceDeidentifier::Impl {
    Impl(const config::Config& config, PseudonymSource& source)
        : profile(Profile::from_config(config)), source(source), pixels(config.pixels) {}
    Profile profile;
    PseudonymSource& source;
    pixels::PixelCleaner pixels;
    bool durable_writes = true;
    bool write_in_place = false;
    std::size_t memory_output_limit = 0;

    Outcome process(std::unique_ptr<DcmFileFormat>& holder, const std::string& input_path,
                    const std::string& output_path, const std::string& calling_ae);
};

InstanceDeidentifier::InstanceDeidentifier(const config::Config& config, PseudonymSource& source)
    : impl_(new Impl(config, source)) {
    // Public elements a writer stored as UN get their dictionary VR on reading, so their values
    // are de-identified like any other (instead of being dropped as unknown).
    dcmEnableUnknownVRConversion.set(OFTrue);
}
InstanceDeidentifier::~InstanceDeidentifier() = default;

void InstanceDeidentifier::set_durable_writes(bool durable) { impl_->durable_writes = durable; }
void InstanceDeidentifier::set_write_in_place(bool in_place) { impl_->write_in_place = in_place; }
void InstanceDeidentifier::set_memory_output(std::size_t limit_bytes) { impl_->memory_output_limit = limit_bytes; }

Outcome InstanceDeidentifier::process_file(const std::string& input_path, const std::string& output_path,
                                           const std::string& calling_ae) {
    std::unique_ptr<DcmFileFormat> file;
    return process(file, input_path, output_path, calling_ae);
}

Outcome InstanceDeidentifier::process(std::unique_ptr<DcmFileFormat>& file, const std::string& input_path,
                                      const std::string& output_path, const std::string& calling_ae) {
    try {
        return impl_->process(file, input_path, output_path, calling_ae);
    } catch (const PseudonymUnavailable& e) {
        return make(Outcome::Kind::Retry, "pseudonym-unavailable", e.what());
    } catch (const std::exception& e) {
        // Messages of this project's code carry no PHI.
        return make(Outcome::Kind::Quarantined, "engine-error", e.what());
    } catch (...) {
        return make(Outcome::Kind::Quarantined, "engine-error", "unexpected error");
    }
}

Outcome InstanceDeidentifier::Impl::process(std::unique_ptr<DcmFileFormat>& holder, const std::string& input_path,
                                            const std::string& output_path, const std::string& calling_ae) {
    OFCondition c;
    if (!holder) {
        auto loaded = std::make_unique<DcmFileFormat>();
        c = loaded->loadFile(input_path.c_str());
        if (c.bad()) return make(Outcome::Kind::Quarantined, "malformed", std::string("not readable as DICOM: ") + c.text());
        holder = std::move(loaded);
    }
    DcmFileFormat& file = *holder;
    DcmDataset* ds = file.getDataset();
    // The attributes looked up by tag here, read in one walk (a search per tag walks the list each time).
    enum { SopClass, SopInstance, Modality, Manufacturer, NTags };
    static const DcmTagKey tags[NTags] = {DCM_SOPClassUID, DCM_SOPInstanceUID, DCM_Modality, DCM_Manufacturer};
    std::string values[NTags];
    string_values(*ds, tags, NTags, values);
    if (values[SopClass].empty() || values[SopInstance].empty())
        return make(Outcome::Kind::Quarantined, "malformed", "SOP Class UID or SOP Instance UID missing");
    c = file.loadAllDataIntoMemory();
    if (c.bad()) return make(Outcome::Kind::Quarantined, "malformed", std::string("cannot load the data: ") + c.text());
    E_TransferSyntax xfer = ds->getOriginalXfer();
    const std::string invalid = first_invalid_element(*ds, DcmXfer(xfer).isExplicitVR());
    if (!invalid.empty()) return make(Outcome::Kind::Quarantined, "malformed", invalid);
    if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;

    InstanceFacts facts;  // as InstanceFacts::of: the validity scan above changes no value
    facts.modality = std::move(values[Modality]);
    facts.sop_class_uid = std::move(values[SopClass]);
    facts.manufacturer = std::move(values[Manufacturer]);
    facts.calling_ae = trim(calling_ae);
    if (auto reason = rejection_reason(profile, facts))
        return make(Outcome::Kind::Rejected, "rejected", *reason);

    const Identifiers original = collect_identifiers(file);
    const DeidReport report = apply(profile, file, source);
    if (!report.refusal.empty())
        return make(Outcome::Kind::Quarantined, report.refusal,
                    "instance not released: " + report.refusal + " (profile option)");

    int ocr_read = 0, ocr_cleaned = 0;
    if (profile.clean_pixel_data) {
        const pixels::PixelReport pr = pixels.clean(file);
        ocr_read = pr.regions_read;
        ocr_cleaned = pr.regions_cleaned;
        if (!pr.failure.empty()) return make(Outcome::Kind::Quarantined, "pixel-clean-failed", pr.failure);
        if (pr.examined) add_method_code(*ds, "113101");
        if (!pr.transfer_syntax_uid.empty()) xfer = DcmXfer(pr.transfer_syntax_uid.c_str()).getXfer();  // HTJ2K -> JPEG 2000
    } else if (profile.clean_graphics) {  // overlay planes the profile kept: their text goes (deid/pixels)
        const pixels::PixelReport pr = pixels.clean_overlays(file);
        if (!pr.failure.empty()) return make(Outcome::Kind::Quarantined, "pixel-clean-failed", pr.failure);
    }

    const VerifyReport verified = verify(profile.source, original, file, report.date_offset_days);
    if (!verified.clean()) return make(Outcome::Kind::Quarantined, "leak", verified.summary());

    std::uint64_t written = 0;
    std::string encoded;
    std::string* memory = write_in_place && !durable_writes && memory_output_limit > 0 ? &encoded : nullptr;
    const std::string error =
        write_atomically(file, xfer, output_path, durable_writes, write_in_place, written, memory, memory_output_limit);
    if (error.rfind("unsupported", 0) == 0) return make(Outcome::Kind::Quarantined, "unsupported-transfer-syntax", error);
    if (!error.empty()) return make(Outcome::Kind::Retry, "write-failed", error);

    Outcome o = make(Outcome::Kind::Clean, "", "");
    o.sop_class_uid = report.sop_class_uid;
    o.sop_instance_uid = report.sop_instance_uid;
    o.study_instance_uid = report.study_instance_uid;
    o.series_instance_uid = report.series_instance_uid;
    o.modality = report.modality;
    o.transfer_syntax_uid = DcmXfer(xfer).getXferID();
    o.output_bytes = written;
    o.encoded = std::move(encoded);
    o.ocr_regions_read = ocr_read;
    o.ocr_regions_cleaned = ocr_cleaned;
    return o;
}

}  // namespace deid
