#include "dimse/StoreScu.h"

#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

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
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>

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

bool is_uncompressed(const std::string& ts) {
    return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax ||
           ts == UID_BigEndianExplicitTransferSyntax;
}

// The bytes of the spooled file read at a time: all of most instances, and a bound on memory for the
// largest (a multi-frame instance streams through it).
constexpr std::size_t kChunkBytes = 1 << 20;

// The spooled file opened to send its data set as stored; the buffer holds its first bytes (or
// the file is in memory, whole).
struct StoredFile {
    std::ifstream in;
    const char* data = nullptr;        // the buffered bytes: the send buffer, or the file in memory
    std::uint64_t size = 0;            // of the file
    std::uint64_t dataset_offset = 0;  // where the data set starts: the end of the meta header
    std::size_t buffered = 0;          // bytes of the file at `data`, from its start
    std::string transfer_syntax;       // of the data set, from the meta header
};

// Finds where the data set of `f` (its first f.buffered bytes at f.data) starts, with DCMTK's own
// reading of the meta header: the preamble, the (0002,0000) group length, which must be what
// DCMTK measures of the group it read, and the next tag in another group. False when that does
// not hold, or for a deflated syntax (DIMSE deflates the data set itself).
bool find_dataset(StoredFile& f) {
    if (f.size < 144 || f.size % 2 != 0) return false;  // preamble, "DICM", (0002,0000); even lengths
    if (std::string(f.data + 128, 4) != "DICM") return false;
    DcmInputBufferStream stream;
    stream.setBuffer(f.data, static_cast<offile_off_t>(f.buffered));
    stream.setEos();
    DcmMetaInfo meta;
    meta.transferInit();
    const OFCondition cond = meta.read(stream, EXS_Unknown, EGL_noChange);
    meta.transferEnd();
    Uint32 group_length = 0;
    OFString ts;
    if (cond.bad() || meta.findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length).bad() ||
        meta.findAndGetOFStringArray(DCM_TransferSyntaxUID, ts).bad())
        return false;
    const offile_off_t end = stream.tell();
    if (end != 144 + static_cast<offile_off_t>(group_length) || end + 2 > static_cast<offile_off_t>(f.buffered))
        return false;
    if (meta.getLength(EXS_LittleEndianExplicit, EET_ExplicitLength) != 12 + group_length) return false;
    for (DcmObject* o = meta.nextInContainer(nullptr); o; o = meta.nextInContainer(o))
        if (o->getGTag() != 0x0002) return false;
    const DcmXfer xfer(ts.c_str());
    if (xfer.getXfer() == EXS_Unknown || xfer.getStreamCompression() != ESC_none) return false;
    const auto* next = reinterpret_cast<const unsigned char*>(f.data + end);
    const unsigned group = xfer.getByteOrder() == EBO_BigEndian ? (next[0] << 8 | next[1]) : (next[1] << 8 | next[0]);
    if (group == 0x0002) return false;  // the group length is shorter than the group
    f.dataset_offset = static_cast<std::uint64_t>(end);
    f.transfer_syntax = ts.c_str();
    return true;
}

// Opens `path` and reads its first bytes into `buffer` (find_dataset); empty when it cannot be sent as stored.
std::optional<StoredFile> open_stored(const std::string& path, std::vector<char>& buffer) {
    StoredFile f;
    f.in.open(path, std::ios::binary | std::ios::ate);
    if (!f.in) return std::nullopt;
    const std::streamoff size = f.in.tellg();
    if (size < 144) return std::nullopt;
    f.size = static_cast<std::uint64_t>(size);
    f.buffered = static_cast<std::size_t>(std::min<std::uint64_t>(f.size, buffer.size()));
    f.in.seekg(0);
    if (!f.in.read(buffer.data(), static_cast<std::streamsize>(f.buffered))) return std::nullopt;
    f.data = buffer.data();
    if (!find_dataset(f)) return std::nullopt;
    return f;
}

// Where the data set of `f` starts when `meta` is the meta header its bytes hold (as DCMTK read
// or wrote it): after the 12 + group length bytes `meta` measures, which must be what the bytes'
// own (0002,0000) says, with a transfer syntax DIMSE sends as it is and another group next. This
// is find_dataset's conclusion without reading the header again (a tenth of a forwarder's work on
// a small instance); false when any of it does not hold.
bool dataset_after(StoredFile& f, DcmMetaInfo& meta) {
    static constexpr char kGroupLength[] = {0x02, 0x00, 0x00, 0x00, 'U', 'L', 0x04, 0x00};  // explicit VR little endian
    if (f.size < 144 || f.size % 2 != 0 || f.buffered < 144) return false;
    if (std::memcmp(f.data + 128, "DICM", 4) != 0 || std::memcmp(f.data + 132, kGroupLength, 8) != 0) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(f.data);
    const std::uint64_t group_length = b[140] | b[141] << 8 | b[142] << 16 | static_cast<std::uint64_t>(b[143]) << 24;
    const std::uint64_t end = 144 + group_length;
    if (end + 2 > f.buffered || meta.getLength(EXS_LittleEndianExplicit, EET_ExplicitLength) != 12 + group_length) return false;
    for (DcmObject* o = meta.nextInContainer(nullptr); o; o = meta.nextInContainer(o))
        if (o->getGTag() != 0x0002) return false;
    OFString ts;
    if (meta.findAndGetOFStringArray(DCM_TransferSyntaxUID, ts).bad()) return false;
    const DcmXfer xfer(ts.c_str());
    if (xfer.getXfer() == EXS_Unknown || xfer.getStreamCompression() != ESC_none) return false;
    const unsigned group = xfer.getByteOrder() == EBO_BigEndian ? (b[end] << 8 | b[end + 1]) : (b[end + 1] << 8 | b[end]);
    if (group == 0x0002) return false;
    f.dataset_offset = end;
    f.transfer_syntax = ts.c_str();
    return true;
}

// The same for a file's bytes in memory (not copied: `bytes` must outlive the send), written from
// `parsed` or read into it: its meta header says where the data set starts when it can
// (dataset_after), else the bytes' header is read (find_dataset).
std::optional<StoredFile> stored_in_memory(const std::string& bytes, DcmFileFormat& parsed) {
    StoredFile f;
    f.data = bytes.data();
    f.size = f.buffered = bytes.size();
    DcmMetaInfo* meta = parsed.getMetaInfo();
    if ((meta && dataset_after(f, *meta)) || find_dataset(f)) return f;
    return std::nullopt;
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

// Stands for a data set whose bytes follow the C-STORE request as P-DATA PDVs of their own
// (DUL_WritePDVs): given to DIMSE with the request, it writes nothing, so DIMSE sends the request's
// command and no data set PDV (dimse.cc, sendDcmDataset sends a PDV only for bytes written).
class FollowingDataset : public DcmDataset {
public:
    OFBool isEmpty(const OFBool = OFTrue) override { return OFFalse; }
    OFBool canWriteXfer(const E_TransferSyntax, const E_TransferSyntax = EXS_Unknown) override { return OFTrue; }
    using DcmDataset::write;
    OFCondition write(DcmOutputStream&, const E_TransferSyntax, const E_EncodingType, DcmWriteCache*,
                      const E_GrpLenEncoding, const E_PaddingEncoding, const Uint32, const Uint32, Uint32) override {
        return EC_Normal;
    }
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

struct AcceptedContext {
    T_ASC_PresentationContextID id;
    std::string sop_class;
    std::string transfer_syntax;
};

struct StoreScu::Impl {
    ScuSettings settings;
    NoDelayTransportLayer layer;
    std::shared_ptr<DcmTransportLayer> in_use;  // the TLS layer of the open association (net uses it)
    T_ASC_Network* net = nullptr;
    T_ASC_Parameters* params = nullptr;  // until the association owns them
    T_ASC_Association* assoc = nullptr;
    std::vector<AcceptedContext> accepted;
    std::vector<char> buffer = std::vector<char>(kChunkBytes);  // the stored file's bytes, a chunk at a time
    DIC_US message_id = 0;
    // (SOP class, transfer syntax of the file) pairs proposed on the open association.
    std::set<std::pair<std::string, std::string>> proposed;
    std::set<std::pair<std::string, std::string>> wanted;

    bool connected() const { return assoc && assoc->DULassociation; }

    // As DcmSCU closes and frees an association (scu.cc, closeAssociation and freeNetwork).
    void close(bool abort_it) {
        if (connected()) {
            if (abort_it) ASC_abortAssociation(assoc);
            else ASC_releaseAssociation(assoc);
        }
        if (params) {
            ASC_destroyAssociationParameters(&params);
            if (assoc) assoc->params = nullptr;
        }
        ASC_destroyAssociation(&assoc);
        ASC_dropNetwork(&net);
        accepted.clear();
        proposed.clear();
    }

    // As DcmSCU opens one (initNetwork, useSecureConnection, negotiateAssociation).
    OFCondition open() {
        close(false);
        dcmConnectionTimeout.set(settings.acse_timeout_seconds);
        OFCondition cond = ASC_initializeNetwork(NET_REQUESTOR, 0, settings.acse_timeout_seconds, &net);
        if (cond.good()) cond = ASC_createAssociationParameters(&params, 65536);
        if (cond.bad()) {
            close(false);
            return cond;
        }
        ASC_setAPTitles(params, settings.calling_ae.c_str(), settings.called_ae.c_str(), nullptr);
        const std::string peer = settings.host + ":" + std::to_string(settings.port);
        ASC_setPresentationAddresses(params, OFStandard::getHostName().c_str(), peer.c_str());
        // Two contexts per SOP class: the file's own syntax, and uncompressed. Big endian and
        // implicit VR have a context of their own too: in the uncompressed one the peer picks its
        // preference (explicit little endian, mostly), and the file's bytes could not go as stored.
        if (wanted.size() > 60) wanted.clear();
        T_ASC_PresentationContextID id = 1;
        for (const auto& [sop_class, ts] : wanted) {
            if (ts != UID_LittleEndianExplicitTransferSyntax) {
                const char* own[] = {ts.c_str()};
                if (cond.good()) cond = ASC_addPresentationContext(params, id, sop_class.c_str(), own, 1);
                id += 2;
            }
            std::vector<const char*> plain;
            if (ts == UID_BigEndianExplicitTransferSyntax) plain.push_back(ts.c_str());
            plain.push_back(UID_LittleEndianExplicitTransferSyntax);
            plain.push_back(UID_LittleEndianImplicitTransferSyntax);
            if (cond.good())
                cond = ASC_addPresentationContext(params, id, sop_class.c_str(), plain.data(), static_cast<int>(plain.size()));
            id += 2;
        }
        if (cond.good()) {
            in_use = settings.transport ? settings.transport() : nullptr;  // the current TLS layer
            cond = ASC_setTransportLayer(net, in_use ? in_use.get() : &layer, OFFalse);
        }
        if (cond.good()) cond = ASC_setTransportLayerType(params, OFTrue);  // our layer makes every connection
        if (cond.good()) cond = ASC_requestAssociation(net, params, &assoc);
        if (cond.good()) params = nullptr;  // the association's now
        if (cond.good() && ASC_countAcceptedPresentationContexts(assoc->params) == 0)
            cond = NET_EC_NoAcceptablePresentationContexts;
        if (cond.bad()) {
            close(true);
            return cond;
        }
        for (int i = 0; i < ASC_countPresentationContexts(assoc->params); ++i) {
            T_ASC_PresentationContext pc;
            if (ASC_getPresentationContext(assoc->params, i, &pc).good() && pc.resultReason == ASC_P_ACCEPTANCE)
                accepted.push_back({pc.presentationContextID, pc.abstractSyntax, pc.acceptedTransferSyntax});
        }
        proposed = wanted;
        return cond;
    }

    // The accepted context for `sop_class` in exactly `ts`; 0 when there is none.
    T_ASC_PresentationContextID find(const std::string& sop_class, const std::string& ts) const {
        for (const auto& c : accepted)
            if (c.sop_class == sop_class && c.transfer_syntax == ts) return c.id;
        return 0;
    }

    // One C-STORE and its response. DIMSE sends the request with `dataset`, or, when `stored` is
    // given, with its command only, and then the stored data set bytes go as P-DATA PDVs of the
    // size DIMSE uses (the peer's max PDU less the PDU and PDV headers, even), the last one marked.
    OFCondition store(T_ASC_PresentationContextID pres_id, const std::string& sop_class, const std::string& sop_instance,
                      DcmDataset* dataset, StoredFile* stored, Uint16& status) {
        if (sop_instance.empty()) return NET_EC_InvalidSOPInstanceUID;  // as DcmSCU::sendSTORERequest answers
        T_DIMSE_Message request;
        std::memset(&request, 0, sizeof request);
        request.CommandField = DIMSE_C_STORE_RQ;
        T_DIMSE_C_StoreRQ& rq = request.msg.CStoreRQ;
        message_id = message_id == 0xFFFF ? 1 : message_id + 1;
        rq.MessageID = message_id;
        OFStandard::strlcpy(rq.AffectedSOPClassUID, sop_class.c_str(), sizeof rq.AffectedSOPClassUID);
        OFStandard::strlcpy(rq.AffectedSOPInstanceUID, sop_instance.c_str(), sizeof rq.AffectedSOPInstanceUID);
        rq.DataSetType = DIMSE_DATASET_PRESENT;
        rq.Priority = DIMSE_PRIORITY_MEDIUM;
        OFCondition cond;
        if (stored) {
            FollowingDataset following;
            cond = DIMSE_sendMessageUsingMemoryData(assoc, pres_id, &request, nullptr, &following, nullptr, nullptr);
            if (cond.good()) cond = send_pdvs(pres_id, *stored);
        } else {
            cond = DIMSE_sendMessageUsingMemoryData(assoc, pres_id, &request, nullptr, dataset, nullptr, nullptr);
        }
        if (cond.bad()) return cond;
        T_DIMSE_Message response;
        std::memset(&response, 0, sizeof response);
        T_ASC_PresentationContextID response_id = 0;
        DcmDataset* detail = nullptr;
        cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, settings.dimse_timeout_seconds, &response_id, &response, &detail);
        delete detail;
        if (cond.bad()) return cond;
        if (response.CommandField != DIMSE_C_STORE_RSP || response.msg.CStoreRSP.MessageIDBeingRespondedTo != rq.MessageID)
            return DIMSE_BADCOMMANDTYPE;
        status = response.msg.CStoreRSP.DimseStatus;
        return cond;
    }

    // The stored data set from `file` (its first bytes at file.data), a buffer at a time, without
    // another copy: DUL writes each PDV from there. Any failure leaves the data set unfinished,
    // so the caller aborts the association.
    OFCondition send_pdvs(T_ASC_PresentationContextID pres_id, StoredFile& file) {
        std::size_t fragment = assoc->sendPDVLength;  // even, from the peer's max PDU (assoc.cc)
        const Uint32 max_pdu = dcmMaxOutgoingPDUSize.get();
        if (fragment + 12 > max_pdu) fragment = (max_pdu - 12) & ~std::size_t{1};
        std::size_t begin = static_cast<std::size_t>(file.dataset_offset);  // in the buffer
        std::size_t end = file.buffered;
        std::uint64_t read = file.buffered;  // bytes of the file read so far
        std::vector<DUL_PDV> pdvs;
        for (;;) {
            const bool last_buffer = read == file.size;
            std::size_t length = end - begin;
            if (!last_buffer) length -= length % fragment;  // whole PDVs; the rest goes with the next read
            pdvs.clear();
            for (std::size_t at = 0; at < length; at += fragment) {
                DUL_PDV pdv;
                pdv.fragmentLength = static_cast<unsigned long>(std::min(fragment, length - at));
                pdv.presentationContextID = pres_id;
                pdv.pdvType = DUL_DATASETPDV;
                pdv.lastPDV = last_buffer && at + pdv.fragmentLength == length;
                pdv.data = const_cast<char*>(file.data) + begin + at;  // DUL only reads it
                pdvs.push_back(pdv);
            }
            if (!pdvs.empty()) {
                DUL_PDVLIST list;
                std::memset(&list, 0, sizeof list);
                list.count = pdvs.size();
                list.pdv = pdvs.data();
                const OFCondition cond = DUL_WritePDVs(&assoc->DULassociation, &list);
                if (cond.bad()) return makeDcmnetSubCondition(DIMSEC_SENDFAILED, OF_error, "DIMSE Failed to send message", cond);
            }
            if (last_buffer) return EC_Normal;
            // Keep the part PDV, then fill the buffer from the file.
            const std::size_t rest = end - begin - length;
            std::memmove(buffer.data(), buffer.data() + begin + length, rest);
            const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size() - rest, file.size - read));
            if (!file.in.read(buffer.data() + rest, static_cast<std::streamsize>(want)))
                return makeDcmnetCondition(DIMSEC_SENDFAILED, OF_error, "DIMSE Failed to send message: cannot read the spooled file");
            read += want;
            file.data = buffer.data();
            begin = 0;
            end = rest + want;
        }
    }
};

StoreScu::StoreScu(ScuSettings settings) : impl_(std::make_unique<Impl>()) {
    impl_->settings = std::move(settings);
    register_decoders();
}

StoreScu::~StoreScu() { impl_->close(false); }

bool StoreScu::connected() const { return impl_->connected(); }

void StoreScu::release() { impl_->close(false); }

SendResult StoreScu::send_file(const std::string& path) { return send(path, nullptr, {}, nullptr); }

SendResult StoreScu::send_parsed(DcmFileFormat& parsed, const std::string& transfer_syntax_uid, const std::string& path) {
    return send(path, &parsed, transfer_syntax_uid, nullptr);
}

SendResult StoreScu::send_encoded(DcmFileFormat& parsed, const std::string& transfer_syntax_uid,
                                  const std::string& file_bytes) {
    return send({}, &parsed, transfer_syntax_uid, &file_bytes);
}

SendResult StoreScu::send(const std::string& path, DcmFileFormat* parsed, std::string file_ts,
                          const std::string* file_bytes) {
    OFCondition cond;
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
    // The file opened once the peer has accepted its syntax, when its data set can be sent as stored.
    std::optional<StoredFile> stored;
    bool stored_tried = false;
    const auto open_if_usable = [&] {
        stored_tried = true;
        if ((path.empty() && !file_bytes) || sop_instance.empty() || !sent_as_stored(*file.getDataset())) return;
        stored = file_bytes ? stored_in_memory(*file_bytes, file) : open_stored(path, impl_->buffer);
        if (stored && stored->transfer_syntax != file_ts) stored.reset();
    };

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
        Impl& scu = *impl_;
        T_ASC_PresentationContextID pres_id = scu.find(sop_class, file_ts);
        if (pres_id == 0 && !is_uncompressed(file_ts)) {
            // The peer did not take the compressed syntax: decompress into explicit little endian.
            pres_id = scu.find(sop_class, UID_LittleEndianExplicitTransferSyntax);
            if (pres_id == 0) pres_id = scu.find(sop_class, UID_LittleEndianImplicitTransferSyntax);
            if (pres_id != 0) {
                cond = file.getDataset()->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
                if (cond.bad() || !file.getDataset()->canWriteXfer(EXS_LittleEndianExplicit))
                    return result(SendResult::Kind::Refused, DimseError::cannot_convert,
                                  "the peer accepts only uncompressed and the instance's transfer syntax cannot be decoded");
            }
        }
        if (pres_id == 0) pres_id = ASC_findAcceptedPresentationContextID(scu.assoc, sop_class.c_str(), file_ts.c_str());
        if (pres_id == 0) {
            impl_->wanted.erase(key);
            return result(SendResult::Kind::Refused, DimseError::no_presentation_context,
                          "the peer accepted no presentation context for SOP class " + sop_class);
        }
        Uint16 status = 0;
        // The accepted syntax is the file's: its data set bytes go as they are.
        T_ASC_PresentationContextID as_stored = scu.find(sop_class, file_ts);
        // Opened again on a resend: the buffer's first bytes were overwritten by the first try.
        if (as_stored != 0 && (!stored_tried || round > 0)) open_if_usable();
        if (!stored) as_stored = 0;
        if (as_stored != 0)
            cond = scu.store(as_stored, sop_class, sop_instance, nullptr, &*stored, status);
        else
            cond = scu.store(pres_id, sop_class, sop_instance, file.getDataset(), nullptr, status);
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
