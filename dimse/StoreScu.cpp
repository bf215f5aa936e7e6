#include "dimse/StoreScu.h"

#include <mutex>
#include <set>
#include <utility>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
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

SendResult StoreScu::send_file(const std::string& path) {
    DcmFileFormat file;
    OFCondition cond = file.loadFile(path.c_str());
    if (cond.bad()) return result(SendResult::Kind::Refused, DimseError::file_unreadable, std::string("cannot read the spooled file: ") + cond.text());
    return send(file, DcmXfer(file.getDataset()->getOriginalXfer()).getXferID());
}

SendResult StoreScu::send_parsed(DcmFileFormat& parsed, const std::string& transfer_syntax_uid) {
    return send(parsed, transfer_syntax_uid);
}

SendResult StoreScu::send(DcmFileFormat& file, const std::string& file_ts) {
    OFCondition cond;
    const std::string sop_class = string_value(*file.getDataset(), DCM_SOPClassUID);
    if (sop_class.empty()) return result(SendResult::Kind::Refused, DimseError::file_unreadable, "no SOP Class UID");

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
        cond = scu.sendSTORERequest(pres_id, OFFilename(), file.getDataset(), status);
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
