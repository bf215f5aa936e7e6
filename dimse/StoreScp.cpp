#include "dimse/StoreScp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <condition_variable>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/dulstruc.h>

#include "dimse/DimseError.h"
#include "dimse/DimseStatus.h"
#include "dimse/NoDelayTransportLayer.h"
#include "dimse/ReceiveFileStream.h"

namespace dimse {

namespace {

// Verification: any uncompressed syntax.
const char* kEchoSyntaxes[] = {UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                               UID_LittleEndianImplicitTransferSyntax};

// Storage: compressed first, so a sender that offers its own compressed syntax next to an
// uncompressed one keeps the instance in the syntax it is in.
const char* kStoreSyntaxes[] = {
    UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGLSLossyTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGProcess14TransferSyntax,
    UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess2_4TransferSyntax,
    UID_RLELosslessTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_LittleEndianExplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax,
    UID_LittleEndianImplicitTransferSyntax,
};

constexpr long kMaxPdu = 65536;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    size_t i = 0;
    while (i < s.size() && s[i] == ' ') ++i;
    return s.substr(i);
}

// The listening socket, bound to `bind`:`port` (DCMTK 3.6.7 binds only to the wildcard address).
int open_listen_socket(const std::string& bind, int port, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (int rc = getaddrinfo(bind.empty() ? nullptr : bind.c_str(), service.c_str(), &hints, &res); rc != 0) {
        error = std::string("cannot resolve listen.bind: ") + gai_strerror(rc);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
        error = "cannot listen on " + bind + ":" + service + ": " + std::strerror(errno);
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

// DCMTK reads an external socket from one process-wide variable (dcmExternalSocketHandle, its
// inetd mode): hand-overs are serialised. Held only while the request is already buffered.
std::mutex& external_socket_mutex() {
    static std::mutex m;
    return m;
}

// Connections accepted but still waiting for their A-ASSOCIATE-RQ, beyond max_associations.
constexpr int kSparePendingConnections = 32;
// A-ASSOCIATE-RQ PDUs up to this size are waited for completely before DCMTK reads them.
constexpr std::uint32_t kMaxBufferedRequest = 64 * 1024;

enum class RequestWait { ready, closed, timed_out, aborted };

}  // namespace

struct StoreScp::Impl {
    ScpSettings settings;
    CStoreHandler& handler;
    NoDelayTransportLayer layer;
    T_ASC_Network* net = nullptr;
    int bound_port = 0;
    std::thread accept_thread;
    std::atomic<bool> stop_accept{false};
    std::atomic<bool> abort{false};
    mutable std::mutex mutex;
    std::condition_variable idle_cv;
    int active = 0;        // connection threads (waiting for a request or running an association)
    int associations = 0;  // accepted associations, limited by max_associations
    std::atomic<long> association_seq{0};
    std::atomic<long> file_seq{0};

    Impl(ScpSettings s, CStoreHandler& h) : settings(std::move(s)), handler(h) {}

    void log(LogLevel level, const std::string& message) const {
        if (settings.log) settings.log(level, message);
    }

    void accept_loop();
    void serve_connection(int fd, const std::string& id);
    RequestWait wait_for_request(int fd);
    void refuse(T_ASC_Association* assoc, T_ASC_RejectParametersResult result,
                T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason);
    void run_association(T_ASC_Association* assoc, const std::string& id);
    bool handle_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres_id, T_DIMSE_C_StoreRQ& req,
                      const std::string& id, const std::string& calling, const std::string& called,
                      const std::string& peer);
};

namespace {

// Creates (or, when a recycled file is already there, opens without truncating it) the file a data
// set is received into and writes the file meta header, as DIMSE_createFilestream does. Writing
// over a recycled file's blocks instead of truncating it avoids freeing and allocating them again:
// on ext4 with the `discard` mount option every freed block is a discard request, and those make
// the fdatasync before Success several times slower. Returns the descriptor (kept by the caller
// for the size and the fdatasync) or -1; `stream` writes through it.
int open_receive_file(const std::string& path, const T_DIMSE_C_StoreRQ& req, const std::string& calling_ae,
                      const std::string& transfer_syntax_uid, std::unique_ptr<ReceiveFileStream>& stream) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    stream = std::make_unique<ReceiveFileStream>(fd);
    DcmMetaInfo meta;
    const Uint8 version[2] = {0, 1};
    meta.putAndInsertUint8Array(DCM_FileMetaInformationVersion, version, 2);
    meta.putAndInsertString(DCM_MediaStorageSOPClassUID, req.AffectedSOPClassUID);
    meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, req.AffectedSOPInstanceUID);
    meta.putAndInsertString(DCM_TransferSyntaxUID, transfer_syntax_uid.c_str());
    meta.putAndInsertString(DCM_ImplementationClassUID, OFFIS_IMPLEMENTATION_CLASS_UID);
    meta.putAndInsertString(DCM_ImplementationVersionName, OFFIS_DTK_IMPLEMENTATION_VERSION_NAME);
    meta.putAndInsertString(DCM_SourceApplicationEntityTitle, calling_ae.c_str());
    meta.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, META_HEADER_DEFAULT_TRANSFERSYNTAX,
                                      EET_UndefinedLength);
    meta.transferInit();
    const OFCondition cond = meta.write(*stream, META_HEADER_DEFAULT_TRANSFERSYNTAX, EET_ExplicitLength, nullptr);
    meta.transferEnd();
    if (cond.bad() || stream->status().bad()) {
        if (stream->consumer().error_number() != 0) errno = stream->consumer().error_number();
        stream.reset();
        ::close(fd);
        return -1;
    }
    return fd;
}

// Parses what arrived, for the handler. A file up to keep_parsed_bytes is read whole and handed on
// (CStoreRequest::dataset); in a larger one, values over 4 KiB (pixel data) stay on disk: only the
// structure is read.
void inspect_received(CStoreRequest& request, std::uint64_t keep_parsed_bytes) {
    auto file = std::make_unique<DcmFileFormat>();
    const bool whole = request.file_size <= keep_parsed_bytes;
    OFCondition cond = file->loadFile(request.file_path.c_str(), EXS_Unknown, EGL_noChange,
                                      whole ? OFstatic_cast(Uint32, -1) : 4096, ERM_autoDetect);
    request.parsed = cond.good();
    if (!request.parsed) return;
    OFString value;
    if (file->getDataset()->findAndGetOFString(DCM_SOPClassUID, value).good())
        request.dataset_sop_class_uid = trim(value.c_str());
    if (file->getDataset()->findAndGetOFString(DCM_SOPInstanceUID, value).good())
        request.dataset_sop_instance_uid = trim(value.c_str());
    // Nothing may be left to read from the file, which the handler renames.
    if (whole && file->loadAllDataIntoMemory().good()) request.dataset = std::move(file);
}

}  // namespace

void StoreScp::Impl::refuse(T_ASC_Association* assoc, T_ASC_RejectParametersResult result,
                            T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters rej;
    rej.result = result;
    rej.source = source;
    rej.reason = reason;
    if (settings.on_association) settings.on_association(false);
    ASC_rejectAssociation(assoc, &rej);
    ASC_dropAssociation(assoc);
    ASC_destroyAssociation(&assoc);
}

// The listening thread only accepts TCP connections; each one gets its own thread at once, which
// waits for the A-ASSOCIATE-RQ. A client that connects and sends nothing (or trickles its request)
// therefore delays nobody else.
void StoreScp::Impl::accept_loop() {
    const int listen_fd = reinterpret_cast<PRIVATE_NETWORKKEY*>(net->network)->networkSpecific.TCP.listenSocket;
    while (!stop_accept) {
        pollfd pfd{listen_fd, POLLIN, 0};
        if (::poll(&pfd, 1, 200) <= 0) continue;  // 200 ms: stop_accepting() is noticed quickly
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const std::string id = "assoc-" + std::to_string(++association_seq);
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (active >= settings.max_associations + kSparePendingConnections) {
                log(LogLevel::warning, id + ": connection closed: too many connections (" +
                                           std::to_string(active) + ") already open");
                ::close(fd);
                continue;
            }
            ++active;
        }
        std::thread([this, fd, id] {
            serve_connection(fd, id);
            std::lock_guard<std::mutex> lock(mutex);
            --active;
            idle_cv.notify_all();
        }).detach();
    }
}

// Waits until the whole A-ASSOCIATE-RQ PDU is in the socket's receive buffer, so that DCMTK's
// reading of it (under external_socket_mutex) does not block. Only the PDU header's length field
// is looked at (peeked, not consumed); DCMTK parses the request. SO_RCVLOWAT makes poll() wake up
// only when that many bytes are there, so a trickling sender costs no busy loop.
RequestWait StoreScp::Impl::wait_for_request(int fd) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(settings.acse_timeout_seconds);
    int want = 6;  // PDU type, reserved, 32-bit length
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want);
    RequestWait result = RequestWait::timed_out;
    for (;;) {
        if (abort || stop_accept) {  // no new association once stopping
            result = RequestWait::aborted;
            break;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
        const int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 500)));
        if (n < 0 && errno != EINTR) {
            result = RequestWait::closed;
            break;
        }
        if (n <= 0) continue;
        unsigned char header[6];
        const ssize_t got = ::recv(fd, header, sizeof header, MSG_PEEK | MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            result = RequestWait::closed;
            break;
        }
        if (got < static_cast<ssize_t>(sizeof header)) {
            if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                result = RequestWait::closed;
                break;
            }
            continue;
        }
        const std::uint32_t length = (std::uint32_t(header[2]) << 24) | (std::uint32_t(header[3]) << 16) |
                                     (std::uint32_t(header[4]) << 8) | std::uint32_t(header[5]);
        if (length > kMaxBufferedRequest) {  // unusual; DCMTK reads the rest with its own timeout
            result = RequestWait::ready;
            break;
        }
        const int total = 6 + static_cast<int>(length);
        if (want < total) {
            want = total;
            ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want);
        }
        int available = 0;
        std::vector<unsigned char> probe(static_cast<std::size_t>(total));
        available = static_cast<int>(::recv(fd, probe.data(), probe.size(), MSG_PEEK | MSG_DONTWAIT));
        if (available >= total) {
            result = RequestWait::ready;
            break;
        }
        if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
            result = RequestWait::closed;
            break;
        }
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    return result;
}

void StoreScp::Impl::serve_connection(int fd, const std::string& id) {
    const RequestWait waited = wait_for_request(fd);
    if (waited != RequestWait::ready) {
        log(LogLevel::warning,
            id + ": connection closed without an association: " +
                (waited == RequestWait::timed_out
                     ? "no complete A-ASSOCIATE-RQ within " + std::to_string(settings.acse_timeout_seconds) + " s"
                     : waited == RequestWait::aborted ? std::string("shutting down") : std::string("the peer closed it")));
        ::close(fd);
        return;
    }
    T_ASC_Association* assoc = nullptr;
    OFCondition cond;
    {
        std::lock_guard<std::mutex> lock(external_socket_mutex());
        dcmExternalSocketHandle.set(fd);
        cond = ASC_receiveAssociation(net, &assoc, kMaxPdu, nullptr, nullptr, OFFalse, DUL_NOBLOCK,
                                      settings.acse_timeout_seconds);
        dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
    }
    if (cond.bad()) {
        log(LogLevel::warning, id + ": cannot receive the association request: " + cond.text());
        if (assoc) {
            ASC_dropAssociation(assoc);
            ASC_destroyAssociation(&assoc);
        } else {
            ::close(fd);
        }
        return;
    }
    bool full = false;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (associations >= settings.max_associations) full = true;
        else ++associations;
    }
    if (full) {
        log(LogLevel::warning, id + ": refused: " + std::to_string(settings.max_associations) +
                                   " associations already running (local limit exceeded)");
        refuse(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
        return;
    }
    run_association(assoc, id);
    std::lock_guard<std::mutex> lock(mutex);
    --associations;
}

void StoreScp::Impl::run_association(T_ASC_Association* assoc, const std::string& id) {
    char calling_buf[65] = {0}, called_buf[65] = {0};
    ASC_getAPTitles(assoc->params, calling_buf, sizeof calling_buf, called_buf, sizeof called_buf, nullptr, 0);
    const std::string calling = trim(calling_buf), called = trim(called_buf);
    const std::string peer = assoc->params->DULparams.callingPresentationAddress;
    const std::string who = id + " from " + peer + " calling AE '" + calling + "' called AE '" + called + "'";

    if (called != settings.ae_title) {
        log(LogLevel::warning, who + ": refused: called AE title not recognized");
        refuse(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED);
        return;
    }
    const auto& allowed = settings.allowed_calling_ae;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), calling) == allowed.end()) {
        log(LogLevel::warning, who + ": refused: calling AE title not recognized");
        refuse(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER,
               ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        return;
    }
    if (stop_accept) {
        log(LogLevel::info, who + ": refused: shutting down (temporary congestion)");
        refuse(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
        return;
    }
    const char* verification[] = {UID_VerificationSOPClass};
    ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, verification, 1, kEchoSyntaxes,
                                                    DIM_OF(kEchoSyntaxes));
    ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, dcmAllStorageSOPClassUIDs,
                                                    numberOfDcmAllStorageSOPClassUIDs, kStoreSyntaxes,
                                                    DIM_OF(kStoreSyntaxes));
    OFCondition cond = ASC_acknowledgeAssociation(assoc);
    if (cond.bad()) {
        log(LogLevel::warning, who + ": cannot acknowledge: " + cond.text());
        ASC_dropAssociation(assoc);
        ASC_destroyAssociation(&assoc);
        return;
    }
    if (settings.on_association) settings.on_association(true);
    log(LogLevel::info, who + ": accepted, " + std::to_string(ASC_countAcceptedPresentationContexts(assoc->params)) +
                            " presentation contexts");

    int idle_seconds = 0;
    long stored = 0;
    std::string end = "released";
    for (;;) {
        T_DIMSE_Message msg;
        T_ASC_PresentationContextID pres_id = 0;
        cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, 1, &pres_id, &msg, nullptr);
        if (cond == DIMSE_NODATAAVAILABLE) {
            if (abort) {
                end = "aborted (shutdown timeout)";
                ASC_abortAssociation(assoc);
                break;
            }
            if (++idle_seconds >= settings.dimse_timeout_seconds) {
                end = "aborted (idle for " + std::to_string(idle_seconds) + " s)";
                ASC_abortAssociation(assoc);
                break;
            }
            continue;
        }
        idle_seconds = 0;
        if (cond == DUL_PEERREQUESTEDRELEASE) {
            ASC_acknowledgeRelease(assoc);
            break;
        }
        if (cond == DUL_PEERABORTEDASSOCIATION) {
            end = "aborted by the peer";
            break;
        }
        if (cond.bad()) {
            end = std::string("aborted (") + cond.text() + ")";
            ASC_abortAssociation(assoc);
            break;
        }
        if (msg.CommandField == DIMSE_C_ECHO_RQ) {
            DIMSE_sendEchoResponse(assoc, pres_id, &msg.msg.CEchoRQ, STATUS_Success, nullptr);
            log(LogLevel::debug, id + ": C-ECHO answered");
            continue;
        }
        if (msg.CommandField == DIMSE_C_STORE_RQ) {
            if (!handle_store(assoc, pres_id, msg.msg.CStoreRQ, id, calling, called, peer)) {
                end = "aborted (receive failed)";
                ASC_abortAssociation(assoc);
                break;
            }
            ++stored;
            continue;
        }
        end = "aborted (unsupported DIMSE command " + std::to_string(msg.CommandField) + ")";
        ASC_abortAssociation(assoc);
        break;
    }
    log(LogLevel::info, id + ": " + end + " after " + std::to_string(stored) + " C-STORE requests");
    if (end != "released" && settings.on_aborted) settings.on_aborted();
    ASC_dropSCPAssociation(assoc);
    ASC_destroyAssociation(&assoc);
}

bool StoreScp::Impl::handle_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres_id,
                                  T_DIMSE_C_StoreRQ& req, const std::string& id, const std::string& calling,
                                  const std::string& called, const std::string& peer) {
    CStoreRequest request;
    request.association_id = id;
    request.calling_ae = calling;
    request.called_ae = called;
    request.peer_address = peer;
    request.message_id = req.MessageID;
    request.affected_sop_class_uid = trim(req.AffectedSOPClassUID);
    request.affected_sop_instance_uid = trim(req.AffectedSOPInstanceUID);
    T_ASC_PresentationContext pc;
    if (ASC_findAcceptedPresentationContext(assoc->params, pres_id, &pc).good())
        request.transfer_syntax_uid = pc.acceptedTransferSyntax;
    request.file_path = settings.receive_dir + "/" + id + "-" + std::to_string(++file_seq) + ".part";

    if (settings.prepare_receive_file) settings.prepare_receive_file(request.file_path);
    T_DIMSE_C_StoreRSP rsp{};
    rsp.DimseStatus = STATUS_Success;
    std::unique_ptr<ReceiveFileStream> stream;
    const int fd = open_receive_file(request.file_path, req, calling, request.transfer_syntax_uid, stream);
    OFCondition cond;
    if (fd < 0) {
        // As DIMSE_storeProvider does: read past the data set and answer out of resources.
        const int saved = errno;
        DIC_UL bytes = 0, pdvs = 0;
        cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, settings.dimse_timeout_seconds, &bytes, &pdvs);
        rsp.DimseStatus = DimseStatus::RefusedOutOfResources;
        log(LogLevel::error, id + ": C-STORE (message " + std::to_string(req.MessageID) +
                                 ") answered A700: cannot create the receive file: " + std::strerror(saved));
    } else {
        T_ASC_PresentationContextID data_pres_id = pres_id;
        cond = DIMSE_receiveDataSetInFile(assoc, DIMSE_NONBLOCKING, settings.dimse_timeout_seconds, &data_pres_id,
                                          stream.get(), nullptr, nullptr);
        if (cond.good() && data_pres_id != pres_id)
            cond = makeDcmnetCondition(DIMSEC_INVALIDPRESENTATIONCONTEXTID, OF_error,
                                       "the data set came on another presentation context than its command");
        stream->flush();
        // A write that failed (a full disk) made DCMTK read past the rest of the data set: the
        // association goes on, and this request is answered A700.
        const int write_errno = stream->consumer().error_number();
        if (cond.bad() && write_errno != 0 && cond.module() == OFM_dcmnet && cond.code() == DIMSEC_OUTOFRESOURCES)
            cond = EC_Normal;
        // A recycled file is cut to what was written (nothing to do when it had the same size).
        const bool written = cond.good() && stream->status().good();
        stream.reset();
        if (cond.good()) {
            struct stat st {};
            const off_t length = ::lseek(fd, 0, SEEK_CUR);
            if (!written || length < 0 || ::ftruncate(fd, length) != 0 || ::fstat(fd, &st) != 0) {
                const int saved = !written && write_errno != 0 ? write_errno : errno;
                rsp.DimseStatus = DimseStatus::RefusedOutOfResources;
                log(LogLevel::error, id + ": C-STORE (message " + std::to_string(req.MessageID) +
                                         ") answered A700: cannot write the receive file: " + std::strerror(saved));
            } else {
                request.file_size = static_cast<std::uint64_t>(st.st_size);
                request.file_descriptor = fd;
                inspect_received(request, settings.keep_parsed_bytes);
                rsp.DimseStatus = handler.handle_store(request);
                request.file_descriptor = -1;
            }
        }
        ::close(fd);
    }
    std::remove(request.file_path.c_str());  // whatever the handler did not take
    if (cond.bad()) {
        log(LogLevel::warning, id + ": C-STORE (message " + std::to_string(req.MessageID) +
                                   ") failed while receiving: " + cond.text());
        return false;
    }
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID, sizeof rsp.AffectedSOPClassUID);
    OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, req.AffectedSOPInstanceUID, sizeof rsp.AffectedSOPInstanceUID);
    rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    if (dcmPeerRequiresExactUIDCopy.get()) rsp.opts |= O_STORE_PEER_REQUIRES_EXACT_UID_COPY;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    cond = DIMSE_sendStoreResponse(assoc, pres_id, &req, &rsp, nullptr);
    if (cond.good() && settings.on_response) settings.on_response(rsp.DimseStatus);
    if (cond.bad()) {
        log(LogLevel::warning, id + ": C-STORE (message " + std::to_string(req.MessageID) +
                                   ") response not sent: " + cond.text());
        return false;
    }
    return true;
}

StoreScp::StoreScp(ScpSettings settings, CStoreHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(settings), handler)) {}

StoreScp::~StoreScp() {
    stop_accepting();
    if (!wait_idle(std::chrono::milliseconds(0))) {
        abort_all();
        wait_idle(std::chrono::hours(1));
    }
    if (impl_->net) ASC_dropNetwork(&impl_->net);
}

std::error_code StoreScp::start() {
    std::string error;
    int fd = open_listen_socket(impl_->settings.bind, impl_->settings.port, error);
    if (fd < 0) {
        impl_->log(LogLevel::error, error);
        return DimseError::network_init_failed;
    }
    // DCMTK opens its own wildcard socket on an ephemeral port; ours replaces it under the same
    // descriptor, so DCMTK accepts on the configured address.
    OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, 0, impl_->settings.acse_timeout_seconds, &impl_->net);
    if (cond.bad()) {
        close(fd);
        impl_->log(LogLevel::error, std::string("cannot initialise the DICOM network: ") + cond.text());
        return DimseError::network_init_failed;
    }
    auto* key = reinterpret_cast<PRIVATE_NETWORKKEY*>(impl_->net->network);
    if (dup2(fd, key->networkSpecific.TCP.listenSocket) < 0) {
        close(fd);
        ASC_dropNetwork(&impl_->net);
        return DimseError::network_init_failed;
    }
    close(fd);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(key->networkSpecific.TCP.listenSocket, reinterpret_cast<sockaddr*>(&addr), &len);
    impl_->bound_port = ntohs(addr.sin_port);
    key->networkSpecific.TCP.port = impl_->bound_port;
    ASC_setTransportLayer(impl_->net, &impl_->layer, 0);
    dcmDisableGethostbyaddr.set(OFTrue);  // no reverse DNS lookup per association
    impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
    impl_->log(LogLevel::info, "listening on " + impl_->settings.bind + ":" + std::to_string(impl_->bound_port) +
                                   " as " + impl_->settings.ae_title);
    return {};
}

int StoreScp::port() const { return impl_->bound_port; }

bool StoreScp::accepting() const { return impl_->bound_port > 0 && !impl_->stop_accept; }

void StoreScp::stop_accepting() {
    impl_->stop_accept = true;
    if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
    // New connections are refused from here on; the network itself is dropped in the destructor,
    // once no association uses it any more.
    if (impl_->net)
        shutdown(reinterpret_cast<PRIVATE_NETWORKKEY*>(impl_->net->network)->networkSpecific.TCP.listenSocket, SHUT_RDWR);
}

bool StoreScp::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    return impl_->idle_cv.wait_for(lock, limit, [this] { return impl_->active == 0; });
}

void StoreScp::abort_all() { impl_->abort = true; }

int StoreScp::active_associations() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->active;
}

}  // namespace dimse
