#include "dimse/StoreScu.h"

#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmnet/scu.h>

#include "dimse/DcmValues.h"
#include "dimse/DimseError.h"
#include "dimse/DimseStatus.h"
#include "dimse/NoDelayTransportLayer.h"

namespace dimse {

void register_decoders() {
    static std::once_flag once;
    std::call_once(once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

namespace {

// DcmSCU with our transport layer, TCP_NODELAY or TLS (its installer, useSecureConnection, is
// protected).
class NoDelayScu : public DcmSCU {
public:
    OFCondition install(DcmTransportLayer* layer) { return useSecureConnection(layer); }
    void accepted(T_ASC_PresentationContextID id, OFString& abstract_syntax, OFString& transfer_syntax) {
        findPresentationContext(id, abstract_syntax, transfer_syntax);
    }
};

bool is_uncompressed(const std::string& ts) {
    return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax ||
           ts == UID_BigEndianExplicitTransferSyntax;
}

// The spooled file's bytes, when its data set can go on the wire as it is stored.
struct EncodedFile {
    std::unique_ptr<char[]> bytes;  // not zeroed first: read() fills it
    std::size_t size = 0;
    std::size_t dataset_offset = 0;  // where the data set starts: the end of the meta header
    std::string transfer_syntax;     // of the data set, from the meta header
};

// Reads `path` and finds where its data set starts with DCMTK's own reading of the meta header:
// the preamble, the (0002,0000) group length, which must be what DCMTK measures of the group it
// read, and the next tag in another group. Empty when that does not hold, or for a deflated syntax
// (DIMSE deflates the data set itself).
std::optional<EncodedFile> read_encoded(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return std::nullopt;
    const std::streamoff size = in.tellg();
    if (size < 144) return std::nullopt;  // preamble, "DICM", (0002,0000)
    EncodedFile f;
    f.size = static_cast<std::size_t>(size);
    f.bytes.reset(new char[f.size]);
    in.seekg(0);
    if (!in.read(f.bytes.get(), size)) return std::nullopt;
    if (std::string(f.bytes.get() + 128, 4) != "DICM") return std::nullopt;

    DcmInputBufferStream stream;
    stream.setBuffer(f.bytes.get(), size);
    stream.setEos();
    DcmMetaInfo meta;
    meta.transferInit();
    const OFCondition cond = meta.read(stream, EXS_Unknown, EGL_noChange);
    meta.transferEnd();
    Uint32 group_length = 0;
    OFString ts;
    if (cond.bad() || meta.findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length).bad() ||
        meta.findAndGetOFStringArray(DCM_TransferSyntaxUID, ts).bad())
        return std::nullopt;
    const offile_off_t end = stream.tell();
    if (end != 144 + static_cast<offile_off_t>(group_length) || end >= size || (size - end) % 2 != 0) return std::nullopt;
    if (meta.getLength(EXS_LittleEndianExplicit, EET_ExplicitLength) != 12 + group_length) return std::nullopt;
    for (DcmObject* o = meta.nextInContainer(nullptr); o; o = meta.nextInContainer(o))
        if (o->getGTag() != 0x0002) return std::nullopt;
    const DcmXfer xfer(ts.c_str());
    if (xfer.getXfer() == EXS_Unknown || xfer.getStreamCompression() != ESC_none) return std::nullopt;
    const auto* next = reinterpret_cast<const unsigned char*>(f.bytes.get() + end);
    const unsigned group = xfer.getByteOrder() == EBO_BigEndian ? (next[0] << 8 | next[1]) : (next[1] << 8 | next[0]);
    if (group == 0x0002) return std::nullopt;  // the group length is shorter than the group
    f.dataset_offset = static_cast<std::size_t>(end);
    f.transfer_syntax = ts.c_str();
    return f;
}

// Whether DIMSE would write `item` as its file holds it: DIMSE recalculates group lengths and
// leaves out Data Set Trailing Padding, so an item with either is sent encoded by DIMSE.
bool sent_as_stored(DcmItem& item) {
    for (DcmObject* o = item.nextInContainer(nullptr); o; o = item.nextInContainer(o)) {
        if (o->getETag() == 0x0000 || o->getTag() == DCM_DataSetTrailingPadding) return false;
        if (o->ident() != EVR_SQ) continue;
        auto& sequence = static_cast<DcmSequenceOfItems&>(*o);
        for (DcmObject* i = sequence.nextInContainer(nullptr); i; i = sequence.nextInContainer(i))
            if (!sent_as_stored(static_cast<DcmItem&>(*i))) return false;
    }
    return true;
}

// A data set already encoded in `xfer` (the spooled file after its meta header). DIMSE sends it as
// any data set (dimse.cc, sendDcmDataset: P-DATA PDVs cut to the peer's max PDU length, the last
// one marked, on the given presentation context), but write() copies the stored bytes into DIMSE's
// send buffer instead of encoding elements. Its only elements are the SOP Class and Instance UIDs
// that DcmSCU puts in the C-STORE request.
class EncodedDataset : public DcmDataset {
public:
    EncodedDataset(const char* bytes, std::size_t length, E_TransferSyntax xfer, const std::string& sop_class,
                   const std::string& sop_instance)
        : bytes_(bytes), length_(length), xfer_(xfer) {
        putAndInsertString(DCM_SOPClassUID, sop_class.c_str());
        putAndInsertString(DCM_SOPInstanceUID, sop_instance.c_str());
    }
    OFBool canWriteXfer(const E_TransferSyntax new_xfer, const E_TransferSyntax = EXS_Unknown) override {
        return new_xfer == xfer_;
    }
    void transferInit() override {
        DcmDataset::transferInit();
        written_ = 0;
    }
    using DcmDataset::write;
    OFCondition write(DcmOutputStream& out, const E_TransferSyntax oxfer, const E_EncodingType, DcmWriteCache*,
                      const E_GrpLenEncoding, const E_PaddingEncoding, const Uint32, const Uint32, Uint32) override {
        if (oxfer != xfer_) return EC_IllegalCall;
        while (written_ < length_) {
            if (!out.good()) return out.status();
            const offile_off_t n = out.write(bytes_ + written_, static_cast<offile_off_t>(length_ - written_));
            if (n <= 0) return EC_StreamNotifyClient;  // the PDV is full: DIMSE sends it and calls again
            written_ += static_cast<std::size_t>(n);
        }
        return EC_Normal;
    }

private:
    const char* bytes_;
    std::size_t length_;
    std::size_t written_ = 0;
    E_TransferSyntax xfer_;
};

SendResult result(SendResult::Kind kind, DimseError error, std::string detail, std::uint16_t status = 0) {
    SendResult r;
    r.kind = kind;
    if (error != DimseError::ok) r.error = error;
    r.detail = std::move(detail);
    r.status = status;
    return r;
}

// Why an association could not be opened, from DCMTK's condition codes (never from its text).
SendResult open_failure(const OFCondition& cond) {
    const bool dul = cond.module() == OFM_dcmnet;
    if (dul && cond.code() == DULC_ASSOCIATIONREJECTED)
        return result(SendResult::Kind::Retry, DimseError::association_rejected,
                      std::string("association rejected: ") + cond.text());
    // dcmtls reports the handshake's failure (certificate verify failed, unknown CA, no shared
    // version) in its own module; DUL wraps some as DULC_TLSERROR.
    if (cond.module() == OFM_dcmtls || (dul && cond.code() == DULC_TLSERROR))
        return result(SendResult::Kind::Retry, DimseError::tls_failed, std::string("TLS handshake failed: ") + cond.text());
    return result(SendResult::Kind::Retry, DimseError::connect_failed, std::string("cannot connect: ") + cond.text());
}

}  // namespace

struct StoreScu::Impl {
    ScuSettings settings;
    NoDelayTransportLayer layer;
    std::shared_ptr<DcmTransportLayer> in_use;  // the TLS layer of the open association (scu uses it)
    std::unique_ptr<NoDelayScu> scu;
    // (SOP class, transfer syntax of the file) pairs proposed on the open association.
    std::set<std::pair<std::string, std::string>> proposed;
    std::set<std::pair<std::string, std::string>> wanted;

    void close(bool abort_it) {
        if (scu && scu->isConnected()) {
            if (abort_it) scu->abortAssociation();
            else scu->releaseAssociation();
        }
        scu.reset();
        proposed.clear();
    }

    OFCondition open() {
        close(false);
        scu = std::make_unique<NoDelayScu>();
        scu->setAETitle(settings.calling_ae.c_str());
        scu->setPeerAETitle(settings.called_ae.c_str());
        scu->setPeerHostName(settings.host.c_str());
        scu->setPeerPort(static_cast<Uint16>(settings.port));
        scu->setACSETimeout(settings.acse_timeout_seconds);
        scu->setDIMSETimeout(settings.dimse_timeout_seconds);
        scu->setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        scu->setConnectionTimeout(settings.acse_timeout_seconds);
        scu->setMaxReceivePDULength(65536);
        // Two contexts per SOP class: the file's own syntax, and uncompressed.
        if (wanted.size() > 60) wanted.clear();
        for (const auto& [sop_class, ts] : wanted) {
            OFList<OFString> own;
            own.push_back(ts.c_str());
            if (!is_uncompressed(ts)) scu->addPresentationContext(sop_class.c_str(), own);
            OFList<OFString> plain;
            if (ts == UID_BigEndianExplicitTransferSyntax) plain.push_back(ts.c_str());
            plain.push_back(UID_LittleEndianExplicitTransferSyntax);
            plain.push_back(UID_LittleEndianImplicitTransferSyntax);
            scu->addPresentationContext(sop_class.c_str(), plain);
        }
        OFCondition cond = scu->initNetwork();
        if (cond.good()) {
            in_use = settings.transport ? settings.transport() : nullptr;  // the current TLS layer
            cond = scu->install(in_use ? in_use.get() : &layer);
        }
        if (cond.good()) cond = scu->negotiateAssociation();
        if (cond.bad()) {
            scu.reset();
            return cond;
        }
        proposed = wanted;
        return cond;
    }
};

StoreScu::StoreScu(ScuSettings settings) : impl_(std::make_unique<Impl>()) {
    impl_->settings = std::move(settings);
    register_decoders();
}

StoreScu::~StoreScu() { impl_->close(false); }

bool StoreScu::connected() const { return impl_->scu && impl_->scu->isConnected(); }

void StoreScu::release() { impl_->close(false); }

SendResult StoreScu::send_file(const std::string& path) { return send(path, nullptr, {}); }

SendResult StoreScu::send_parsed(DcmFileFormat& parsed, const std::string& transfer_syntax_uid, const std::string& path) {
    return send(path, &parsed, transfer_syntax_uid);
}

SendResult StoreScu::send(const std::string& path, DcmFileFormat* parsed, std::string file_ts) {
    OFCondition cond;
    std::optional<EncodedFile> encoded;
    if (!path.empty()) encoded = read_encoded(path);
    DcmFileFormat loaded;
    DcmFileFormat* found = parsed;
    if (!found) {
        cond = loaded.loadFile(path.c_str());
        if (cond.bad()) return result(SendResult::Kind::Refused, DimseError::file_unreadable, std::string("cannot read the spooled file: ") + cond.text());
        file_ts = DcmXfer(loaded.getDataset()->getOriginalXfer()).getXferID();
        found = &loaded;
    }
    DcmFileFormat& file = *found;
    const std::string sop_class = string_value(*file.getDataset(), DCM_SOPClassUID);
    if (sop_class.empty()) return result(SendResult::Kind::Refused, DimseError::file_unreadable, "no SOP Class UID");
    const std::string sop_instance = string_value(*file.getDataset(), DCM_SOPInstanceUID);
    if (encoded && (encoded->transfer_syntax != file_ts || sop_instance.empty() || !sent_as_stored(*file.getDataset())))
        encoded.reset();

    const auto key = std::make_pair(sop_class, file_ts);
    for (int round = 0; round < 2; ++round) {
        if (!connected() || !impl_->proposed.count(key)) {
            impl_->wanted.insert(key);
            cond = impl_->open();
            if (cond == NET_EC_NoAcceptablePresentationContexts) {
                impl_->wanted.erase(key);
                return result(SendResult::Kind::Refused, DimseError::no_presentation_context,
                              "the peer accepted no presentation context for SOP class " + sop_class);
            }
            if (cond.bad()) return open_failure(cond);
        }
        NoDelayScu& scu = *impl_->scu;
        T_ASC_PresentationContextID pres_id = scu.findPresentationContextID(sop_class.c_str(), file_ts.c_str());
        if (pres_id == 0 && !is_uncompressed(file_ts)) {
            // The peer did not take the compressed syntax: decompress into explicit little endian.
            pres_id = scu.findPresentationContextID(sop_class.c_str(), UID_LittleEndianExplicitTransferSyntax);
            if (pres_id == 0)
                pres_id = scu.findPresentationContextID(sop_class.c_str(), UID_LittleEndianImplicitTransferSyntax);
            if (pres_id != 0) {
                cond = file.getDataset()->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
                if (cond.bad() || !file.getDataset()->canWriteXfer(EXS_LittleEndianExplicit))
                    return result(SendResult::Kind::Refused, DimseError::cannot_convert,
                                  "the peer accepts only uncompressed and the instance's transfer syntax cannot be decoded");
            }
        }
        if (pres_id == 0) pres_id = scu.findAnyPresentationContextID(sop_class.c_str(), file_ts.c_str());
        if (pres_id == 0) {
            impl_->wanted.erase(key);
            return result(SendResult::Kind::Refused, DimseError::no_presentation_context,
                          "the peer accepted no presentation context for SOP class " + sop_class);
        }
        Uint16 status = 0;
        // The accepted syntax is the file's: its data set bytes go as they are.
        const T_ASC_PresentationContextID as_stored =
            encoded ? scu.findPresentationContextID(sop_class.c_str(), file_ts.c_str()) : 0;
        if (as_stored != 0) {
            EncodedDataset data(encoded->bytes.get() + encoded->dataset_offset, encoded->size - encoded->dataset_offset, DcmXfer(file_ts.c_str()).getXfer(),
                                sop_class, sop_instance);
            cond = scu.sendSTORERequest(as_stored, OFFilename(), &data, status);
        } else {
            cond = scu.sendSTORERequest(pres_id, OFFilename(), file.getDataset(), status);
        }
        if (cond.bad()) {
            // A peer that closed an idle association: reconnect once and resend.
            impl_->close(true);
            if (round == 0) continue;
            return result(SendResult::Kind::Retry, DimseError::send_failed, std::string("C-STORE failed: ") + cond.text());
        }
        char hex[8];
        std::snprintf(hex, sizeof hex, "%04X", status);
        if (status_is_stored(status)) {
            auto sent = result(SendResult::Kind::Sent, DimseError::ok, std::string("status ") + hex, status);
            sent.resent = round > 0;
            sent.as_stored = as_stored != 0;
            return sent;
        }
        if (status == DimseStatus::SopClassNotSupported)
            return result(SendResult::Kind::Refused, DimseError::sop_class_not_supported,
                          std::string("the peer answered ") + hex + " (SOP class not supported)", status);
        return result(SendResult::Kind::Retry, DimseError::peer_failure, std::string("the peer answered ") + hex, status);
    }
    return result(SendResult::Kind::Retry, DimseError::send_failed, "C-STORE failed");
}

}  // namespace dimse
