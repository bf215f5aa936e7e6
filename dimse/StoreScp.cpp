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
#include <map>
#include <mutex>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/dulstruc.h>

#include "dimse/DcmValues.h"
#include "dimse/DimseError.h"
#include "dimse/DimseStatus.h"
#include "common/Log.h"
#include "dimse/HandOverTransportLayer.h"
#include "dimse/NoDelayTransportLayer.h"
#include "dimse/PresentationContexts.h"
#include "dimse/ReceiveFileStream.h"
#include "dimse/Tls.h"

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

// The largest PDU DCMTK takes (ASC_MAXIMUMPDUSIZE, 128 KiB): a sender sends P-DATA PDUs up to the
// size the receiver announces, so a 512x512 CT instance arrives in 4 PDUs instead of 8 (half the
// reads and polls on the receiving thread).
constexpr long kMaxPdu = ASC_MAXIMUMPDUSIZE;

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

// Connections accepted but still waiting for their A-ASSOCIATE-RQ, beyond max_associations.
constexpr int kSparePendingConnections = 32;

enum class FirstByte { arrived, closed, timed_out, aborted };

std::string peer_address(const sockaddr_storage& addr) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
    else if (addr.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
    return text;
}

}  // namespace

struct StoreScp::Impl {
    // One listening socket with its DCMTK network (a network has one transport layer).
    struct Listener {
        bool tls = false;
        T_ASC_Network* net = nullptr;
        int port = 0;
        std::unique_ptr<HandOverTransportLayer> layer;
    };
    // A connection still reading its request: the watchdog shuts its socket down at the deadline,
    // through a descriptor of its own (never one DCMTK may have closed and the kernel reused).
    struct Pending {
        int watch_fd = -1;
        std::chrono::steady_clock::time_point deadline;
    };

    ScpSettings settings;
    CStoreHandler& handler;
    std::shared_ptr<NoDelayTransportLayer> plain_layer = std::make_shared<NoDelayTransportLayer>();
    std::vector<Listener> listeners;
    std::thread accept_thread;
    std::atomic<bool> stop_accept{false};
    std::atomic<bool> abort{false};
    mutable std::mutex mutex;
    std::condition_variable idle_cv;
    int active = 0;        // connection threads (waiting for a request or running an association)
    int associations = 0;  // accepted associations, limited by max_associations
    std::map<std::string, int> connections_by_host, associations_by_host, associations_by_ae;
    std::map<long, Pending> pending;  // by connection sequence number
    std::atomic<long> association_seq{0};
    std::atomic<long> file_seq{0};
    RefusalLog refusals;
    // The TLS layer new connections get; a reload replaces it, a running connection keeps its own.
    mutable std::mutex tls_mutex;
    std::shared_ptr<DcmTLSTransportLayer> tls_layer;
    std::string tls_error;

    Impl(ScpSettings s, CStoreHandler& h)
        : settings(std::move(s)),
          handler(h),
          refusals([this](const std::string& line) { log(LogLevel::warning, line); }, settings.limits.refusal_log_burst,
                   std::chrono::seconds(settings.limits.refusal_log_interval_seconds)) {}

    void log(LogLevel level, const std::string& message) const {
        if (settings.log) settings.log(level, message);
    }
    void refused(Refusal why, const std::string& line) {
        refusals.refused(why, line);
        if (settings.on_refused) settings.on_refused(why);
    }

    std::error_code open(bool tls, int port);
    bool load_tls();
    void accept_loop();
    void accept_one(const Listener& listener);
    void watchdog();
    void serve_connection(int fd, long seq, const std::string& id, const std::string& host, bool tls);
    FirstByte wait_for_first_byte(int fd);
    void refuse(T_ASC_Association* assoc, T_ASC_RejectParametersResult result,
                T_ASC_RejectParametersSource source, T_ASC_RejectParametersReason reason);
    // Counts the association against the limits; Refusal::shutting_down (unused here) = admitted.
    bool admit(const std::string& host, const std::string& calling, Refusal& why);
    void release(const std::string& host, const std::string& calling);
    void run_association(T_ASC_Association* assoc, const std::string& id, const std::string& host, bool tls);
    bool handle_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres_id, T_DIMSE_C_StoreRQ& req,
                      const std::string& id, const std::string& calling, const std::string& called,
                      const std::string& peer);
};

namespace {

// The copy of a received file's bytes kept while they are written (to parse it without reading the
// file back) stops at this size even when keep_parsed_bytes is larger; a larger file is parsed from
// the file just written. The copy grows by doubling, so for a 512x512 CT it copied the file about
// three times: with copies up to 1 MiB the receiving thread used 1,911k instructions per such
// instance (callgrind, bench/cpu_profile.sh), with this limit 662k.
constexpr std::size_t kKeepCopyBytes = 256 * 1024;

// Makes the stream a data set is received into and writes the file meta header into it, as
// DIMSE_createFilestream does. Into a file: `open` creates it (or, when a recycled file is already
// there, opens it without truncating it) at once. Writing over a recycled file's blocks instead of
// truncating it avoids freeing and allocating them again: on ext4 with the `discard` mount option
// every freed block is a discard request, and those make the fdatasync before Success several
// times slower. With memory_bytes, `open` is called only for a data set that grows past it.
// Returns false (errno set) when the file cannot be created; the stream's consumer has the
// descriptor (kept by the caller for the size and the fdatasync, closed by it).
bool open_receive_stream(const std::function<int()>& open, std::size_t memory_bytes, const T_DIMSE_C_StoreRQ& req,
                         const std::string& calling_ae, const std::string& transfer_syntax_uid,
                         std::unique_ptr<ReceiveFileStream>& stream, std::size_t keep_copy_bytes) {
    const int fd = memory_bytes > 0 ? -1 : open();
    if (memory_bytes == 0 && fd < 0) return false;
    stream = std::make_unique<ReceiveFileStream>(fd);
    stream->consumer().keep_copy(keep_copy_bytes);
    if (memory_bytes > 0) stream->consumer().memory_first(memory_bytes, open);
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
        const int opened = stream->consumer().fd();
        stream.reset();
        if (opened >= 0) ::close(opened);
        return false;
    }
    return true;
}

// Parses what arrived, for the handler. A file up to keep_parsed_bytes is parsed whole and handed
// on (CStoreRequest::dataset): from the copy of its bytes kept while they were written (`bytes`,
// the same bytes as the file: no second open, read and seek of it), else from the file; in a larger
// one, values over 4 KiB (pixel data) stay on disk: only the structure is read.
void inspect_received(CStoreRequest& request, std::uint64_t keep_parsed_bytes, const std::string* bytes) {
    auto file = std::make_unique<DcmFileFormat>();
    const bool whole = request.file_size <= keep_parsed_bytes;
    OFCondition cond;
    // Received into memory: there is no file, so it is parsed from its bytes whatever its size.
    if ((whole || request.in_memory) && bytes && bytes->size() == request.file_size) {
        DcmInputBufferStream in;
        in.setBuffer(bytes->data(), static_cast<offile_off_t>(bytes->size()));
        in.setEos();
        file->transferInit();
        cond = file->read(in, EXS_Unknown, EGL_noChange, OFstatic_cast(Uint32, -1));
        file->transferEnd();
    } else {
        cond = file->loadFile(request.file_path.c_str(), EXS_Unknown, EGL_noChange,
                              whole ? OFstatic_cast(Uint32, -1) : 4096, ERM_autoDetect);
    }
    request.parsed = cond.good();
    if (!request.parsed) return;
    request.dataset_sop_class_uid = string_value(*file->getDataset(), DCM_SOPClassUID);
    request.dataset_sop_instance_uid = string_value(*file->getDataset(), DCM_SOPInstanceUID);
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
// reads the request (and does the TLS handshake) itself. A client that connects and sends nothing,
// or trickles its request, therefore delays nobody else. Every 200 ms the thread also runs the
// watchdog and lets the refusal log write its summary.
void StoreScp::Impl::accept_loop() {
    std::vector<pollfd> fds;
    for (const auto& l : listeners)
        fds.push_back(pollfd{reinterpret_cast<PRIVATE_NETWORKKEY*>(l.net->network)->networkSpecific.TCP.listenSocket,
                             POLLIN, 0});
    while (!stop_accept) {
        watchdog();
        refusals.tick();
        for (auto& p : fds) p.revents = 0;
        if (::poll(fds.data(), fds.size(), 200) <= 0) continue;  // 200 ms: stop_accepting() is noticed quickly
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents & POLLIN) accept_one(listeners[i]);
    }
}

void StoreScp::Impl::accept_one(const Listener& listener) {
    const int listen_fd = reinterpret_cast<PRIVATE_NETWORKKEY*>(listener.net->network)->networkSpecific.TCP.listenSocket;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const long seq = ++association_seq;
    const std::string id = "assoc-" + std::to_string(seq);
    const std::string host = peer_address(addr);
    const bool tls = listener.tls;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (active >= settings.max_associations + kSparePendingConnections) {
            refused(Refusal::connections_total, id + " from " + host + ": connection closed: " + std::to_string(active) +
                                                    " connections already open");
            ::close(fd);
            return;
        }
        int& from_host = connections_by_host[host];
        if (from_host >= settings.limits.connections_per_host) {
            refused(Refusal::connections_per_host, id + " from " + host + ": connection closed: " +
                                                       std::to_string(from_host) +
                                                       " connections from this host already open (listen.limits.connections_per_host)");
            ::close(fd);
            return;
        }
        ++from_host;
        ++active;
        Pending p;
        p.watch_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        p.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(settings.acse_timeout_seconds);
        pending[seq] = p;
    }
    std::thread([this, fd, seq, id, host, tls] {
        serve_connection(fd, seq, id, host, tls);
        std::lock_guard<std::mutex> lock(mutex);
        if (auto it = pending.find(seq); it != pending.end()) {
            if (it->second.watch_fd >= 0) ::close(it->second.watch_fd);
            pending.erase(it);
        }
        if (--connections_by_host[host] <= 0) connections_by_host.erase(host);
        --active;
        idle_cv.notify_all();
    }).detach();
}

// A connection whose request (TLS handshake included) is not complete at its deadline is shut
// down: DCMTK's blocking read returns and the connection's thread ends.
void StoreScp::Impl::watchdog() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [seq, p] : pending)
        if (p.watch_fd >= 0 && (now >= p.deadline || abort)) {
            ::shutdown(p.watch_fd, SHUT_RDWR);
            ::close(p.watch_fd);
            p.watch_fd = -1;
        }
}

// Waits for the first byte of the request (or of the TLS handshake), at most
// limits.first_pdu_timeout_seconds. Nothing is read.
FirstByte StoreScp::Impl::wait_for_first_byte(int fd) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(settings.limits.first_pdu_timeout_seconds);
    for (;;) {
        if (abort || stop_accept) return FirstByte::aborted;  // no new association once stopping
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return FirstByte::timed_out;
        pollfd pfd{fd, POLLIN | POLLRDHUP, 0};
        const int n = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), 500)));
        if (n < 0 && errno != EINTR) return FirstByte::closed;
        if (n <= 0) continue;
        char c;
        const ssize_t got = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (got == 1) return FirstByte::arrived;
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) return FirstByte::closed;
    }
}

void StoreScp::Impl::serve_connection(int fd, long seq, const std::string& id, const std::string& host, bool tls) {
    const FirstByte first = wait_for_first_byte(fd);
    if (first != FirstByte::arrived) {
        if (first == FirstByte::aborted)
            log(LogLevel::info, id + ": connection closed without an association: shutting down");
        else
            refused(Refusal::no_request,
                    id + " from " + host + ": connection closed without an association: " +
                        (first == FirstByte::timed_out
                             ? "nothing received within " + std::to_string(settings.limits.first_pdu_timeout_seconds) +
                                   " s (listen.limits.first_pdu_timeout_seconds)"
                             : std::string("the peer closed it")));
        ::close(fd);
        return;
    }
    T_ASC_Association* assoc = nullptr;
    OFCondition cond;
    std::shared_ptr<DcmTransportLayer> layer;  // the one that made this connection, kept while it runs
    bool dcmtk_owns_socket = false;
    {
        HandOverTransportLayer::HandOver hand_over(fd);
        T_ASC_Network* net = nullptr;
        for (const auto& l : listeners)
            if (l.tls == tls) net = l.net;
        cond = ASC_receiveAssociation(net, &assoc, kMaxPdu, nullptr, nullptr, tls ? OFTrue : OFFalse, DUL_NOBLOCK,
                                      settings.acse_timeout_seconds);
        dcmtk_owns_socket = hand_over.connection_created();
        layer = hand_over.layer();
    }
    {
        std::lock_guard<std::mutex> lock(mutex);  // the request is read: no deadline any more
        if (auto it = pending.find(seq); it != pending.end()) {
            if (it->second.watch_fd >= 0) ::close(it->second.watch_fd);
            pending.erase(it);
        }
    }
    if (cond.bad()) {
        const bool handshake = tls && cond.module() == OFM_dcmtls;
        refused(handshake ? Refusal::tls_handshake : Refusal::no_request,
                id + " from " + host + ": " + (handshake ? "TLS handshake failed" : "no association request read") +
                    ": " + common::printable(cond.text()));
        if (assoc) {
            ASC_dropAssociation(assoc);
            ASC_destroyAssociation(&assoc);
        }
        if (!dcmtk_owns_socket) ::close(fd);
        return;
    }
    run_association(assoc, id, host, tls);
}

bool StoreScp::Impl::admit(const std::string& host, const std::string& calling, Refusal& why) {
    std::lock_guard<std::mutex> lock(mutex);
    if (associations >= settings.max_associations) why = Refusal::associations_total;
    else if (associations_by_host[host] >= settings.limits.associations_per_host) why = Refusal::associations_per_host;
    else if (associations_by_ae[calling] >= settings.limits.associations_per_calling_ae)
        why = Refusal::associations_per_calling_ae;
    else {
        ++associations;
        ++associations_by_host[host];
        ++associations_by_ae[calling];
        return true;
    }
    if (associations_by_host[host] == 0) associations_by_host.erase(host);
    if (associations_by_ae[calling] == 0) associations_by_ae.erase(calling);
    return false;
}

void StoreScp::Impl::release(const std::string& host, const std::string& calling) {
    std::lock_guard<std::mutex> lock(mutex);
    --associations;
    if (--associations_by_host[host] <= 0) associations_by_host.erase(host);
    if (--associations_by_ae[calling] <= 0) associations_by_ae.erase(calling);
}

void StoreScp::Impl::run_association(T_ASC_Association* assoc, const std::string& id, const std::string& host, bool tls) {
    char calling_buf[65] = {0}, called_buf[65] = {0};
    ASC_getAPTitles(assoc->params, calling_buf, sizeof calling_buf, called_buf, sizeof called_buf, nullptr, 0);
    const std::string calling = trimmed(calling_buf), called = trimmed(called_buf);
    const std::string peer = host;
    // Peer-supplied values are escaped: a control character cannot forge a log line.
    const std::string who = id + " from " + host + (tls ? " (TLS)" : "") + " calling AE '" + common::printable(calling) +
                            "' called AE '" + common::printable(called) + "'";

    if (called != settings.ae_title) {
        refused(Refusal::called_ae_not_recognized, who + ": refused: called AE title not recognized");
        refuse(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED);
        return;
    }
    const auto& allowed = settings.allowed_calling_ae;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), calling) == allowed.end()) {
        refused(Refusal::calling_ae_not_recognized, who + ": refused: calling AE title not recognized");
        refuse(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER,
               ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        return;
    }
    const std::string subject = tls ? peer_certificate_subject(assoc) : std::string();
    if (const CallerCheck check = check_caller(settings.known_callers, calling, host, subject);
        check != CallerCheck::allowed) {
        refused(Refusal::calling_ae_not_recognized,
                who + (subject.empty() ? std::string() : " certificate '" + common::printable(subject, 256) + "'") +
                    ": refused: calling AE title not recognized: " + describe(check));
        refuse(assoc, ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER,
               ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        return;
    }
    if (stop_accept) {
        refused(Refusal::shutting_down, who + ": refused: shutting down (temporary congestion)");
        refuse(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
        return;
    }
    Refusal why = Refusal::shutting_down;
    if (!admit(host, calling, why)) {
        const std::string limit = why == Refusal::associations_total
                                      ? std::to_string(settings.max_associations) + " associations already running (listen.max_associations)"
                                  : why == Refusal::associations_per_host
                                      ? std::to_string(settings.limits.associations_per_host) +
                                            " associations from this host already running (listen.limits.associations_per_host)"
                                      : std::to_string(settings.limits.associations_per_calling_ae) +
                                            " associations of this calling AE already running (listen.limits.associations_per_calling_ae)";
        refused(why, who + ": refused: local limit exceeded: " + limit);
        refuse(assoc, ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
               ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
        return;
    }
    struct Admitted {
        Impl& impl;
        const std::string &host, &calling;
        ~Admitted() { impl.release(host, calling); }
    } admitted{*this, host, calling};

    static const char* const verification[] = {UID_VerificationSOPClass};
    static const AcceptedSyntaxes accepted[] = {
        {verification, 1, kEchoSyntaxes, DIM_OF(kEchoSyntaxes)},
        {dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs, kStoreSyntaxes, DIM_OF(kStoreSyntaxes)}};
    accept_presentation_contexts(assoc->params, accepted, DIM_OF(accepted));
    OFCondition cond = ASC_acknowledgeAssociation(assoc);
    if (cond.bad()) {
        log(LogLevel::warning, who + ": cannot acknowledge: " + common::printable(cond.text()));
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
    request.affected_sop_class_uid = trimmed(req.AffectedSOPClassUID);
    request.affected_sop_instance_uid = trimmed(req.AffectedSOPInstanceUID);
    T_ASC_PresentationContext pc;
    if (ASC_findAcceptedPresentationContext(assoc->params, pres_id, &pc).good())
        request.transfer_syntax_uid = pc.acceptedTransferSyntax;
    request.file_path = settings.receive_dir + "/" + id + "-" + std::to_string(++file_seq) + ".part";

    const std::string& path = request.file_path;
    const auto open = [this, &path] {
        if (settings.prepare_receive_file) settings.prepare_receive_file(path);
        return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    };
    T_DIMSE_C_StoreRSP rsp{};
    rsp.DimseStatus = STATUS_Success;
    std::unique_ptr<ReceiveFileStream> stream;
    const std::size_t memory_bytes = std::min<std::uint64_t>(settings.memory_bytes, kKeepCopyBytes);
    int fd = -1;
    OFCondition cond;
    if (!open_receive_stream(open, memory_bytes, req, calling, request.transfer_syntax_uid, stream,
                             std::min<std::size_t>(kKeepCopyBytes, settings.keep_parsed_bytes))) {
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
        fd = stream->consumer().fd();  // -1 while the data set is in memory
        // A write that failed (a full disk) made DCMTK read past the rest of the data set: the
        // association goes on, and this request is answered A700.
        const int write_errno = stream->consumer().error_number();
        if (cond.bad() && write_errno != 0 && cond.module() == OFM_dcmnet && cond.code() == DIMSEC_OUTOFRESOURCES)
            cond = EC_Normal;
        // A recycled file is cut to what was written (nothing to do when it had the same size).
        const bool written = cond.good() && stream->status().good();
        std::string bytes;  // the file's bytes, when small enough to have been kept
        const bool in_memory = written && stream->consumer().in_memory();
        const bool kept = written && stream->consumer().take_copy(bytes);
        stream.reset();
        if (cond.good() && in_memory) {
            // Nothing on disk: the handler gets the bytes (and writes a file if it needs one).
            request.file_size = bytes.size();
            request.in_memory = true;
            request.data = std::move(bytes);
            inspect_received(request, settings.keep_parsed_bytes, &request.data);
            rsp.DimseStatus = handler.handle_store(request);
        } else if (cond.good()) {
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
                // Start writing the file back now, so the disk works while the data set is parsed
                // and checked; the fdatasync before Success (the handler's) then waits for less.
                // Only a hint: the fdatasync is what makes the file durable, whatever this returns.
                // About 30 us of the ~0.35 ms durable write of a small instance on this VM.
                if (request.file_size > settings.start_write_back_above_bytes)
                    ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
                inspect_received(request, settings.keep_parsed_bytes, kept ? &bytes : nullptr);
                rsp.DimseStatus = handler.handle_store(request);
                request.file_descriptor = -1;
            }
        }
        if (fd >= 0) ::close(fd);
    }
    if (!request.in_memory) std::remove(request.file_path.c_str());  // whatever the handler did not take
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
    for (auto& l : impl_->listeners)
        if (l.net) ASC_dropNetwork(&l.net);
}

std::error_code StoreScp::Impl::open(bool tls, int port) {
    std::string error;
    int fd = open_listen_socket(settings.bind, port, error);
    if (fd < 0) {
        log(LogLevel::error, error);
        return DimseError::network_init_failed;
    }
    Listener l;
    l.tls = tls;
    // DCMTK opens its own wildcard socket on an ephemeral port; ours replaces it under the same
    // descriptor, so DCMTK accepts on the configured address. ASC_initializeNetwork reads
    // dcmExternalSocketHandle too (an acceptor with one set opens no socket): under its mutex.
    OFCondition cond;
    {
        std::lock_guard<std::mutex> lock(HandOverTransportLayer::global_mutex());
        cond = ASC_initializeNetwork(NET_ACCEPTOR, 0, settings.acse_timeout_seconds, &l.net);
    }
    if (cond.bad()) {
        close(fd);
        log(LogLevel::error, std::string("cannot initialise the DICOM network: ") + cond.text());
        return DimseError::network_init_failed;
    }
    auto* key = reinterpret_cast<PRIVATE_NETWORKKEY*>(l.net->network);
    if (dup2(fd, key->networkSpecific.TCP.listenSocket) < 0) {
        close(fd);
        ASC_dropNetwork(&l.net);
        return DimseError::network_init_failed;
    }
    close(fd);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    getsockname(key->networkSpecific.TCP.listenSocket, reinterpret_cast<sockaddr*>(&addr), &len);
    l.port = ntohs(addr.sin_port);
    key->networkSpecific.TCP.port = l.port;
    if (tls) {
        l.layer = std::make_unique<HandOverTransportLayer>([this]() -> std::shared_ptr<DcmTransportLayer> {
            std::lock_guard<std::mutex> lock(tls_mutex);
            return tls_layer;
        });
    } else {
        l.layer = std::make_unique<HandOverTransportLayer>(
            [this]() -> std::shared_ptr<DcmTransportLayer> { return plain_layer; });
    }
    ASC_setTransportLayer(l.net, l.layer.get(), 0);
    listeners.push_back(std::move(l));
    return {};
}

std::error_code StoreScp::start() {
    if (impl_->settings.port < 0 && impl_->settings.tls_port < 0) {
        impl_->log(LogLevel::error, "neither a plain nor a TLS port to listen on");
        return DimseError::network_init_failed;
    }
    if (impl_->settings.tls_port >= 0 && !impl_->load_tls()) {
        impl_->log(LogLevel::error, "TLS listener: " + tls_error());
        return DimseError::tls_setup_failed;
    }
    if (impl_->settings.port >= 0)
        if (auto ec = impl_->open(false, impl_->settings.port)) return ec;
    if (impl_->settings.tls_port >= 0)
        if (auto ec = impl_->open(true, impl_->settings.tls_port)) return ec;
    dcmDisableGethostbyaddr.set(OFTrue);  // no reverse DNS lookup per association
    impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
    std::string where;
    for (const auto& l : impl_->listeners)
        where += (where.empty() ? "" : " and ") + impl_->settings.bind + ":" + std::to_string(l.port) +
                 (l.tls ? " (TLS)" : "");
    impl_->log(LogLevel::info, "listening on " + where + " as " + impl_->settings.ae_title);
    return {};
}

bool StoreScp::Impl::load_tls() {
    std::string error;
    std::shared_ptr<DcmTLSTransportLayer> layer;
    if (!settings.tls) error = "no TLS settings";
    else layer = make_tls_layer(TlsRole::server, *settings.tls, error);
    std::lock_guard<std::mutex> lock(tls_mutex);
    if (!layer) {
        tls_error = error;
        return false;
    }
    tls_layer = std::move(layer);
    tls_error.clear();
    return true;
}

bool StoreScp::reload_tls() { return impl_->load_tls(); }

std::string StoreScp::tls_error() const {
    std::lock_guard<std::mutex> lock(impl_->tls_mutex);
    return impl_->tls_error;
}

int StoreScp::port() const {
    for (const auto& l : impl_->listeners)
        if (!l.tls) return l.port;
    return 0;
}

int StoreScp::tls_port() const {
    for (const auto& l : impl_->listeners)
        if (l.tls) return l.port;
    return 0;
}

bool StoreScp::accepting() const { return !impl_->listeners.empty() && impl_->accept_thread.joinable() && !impl_->stop_accept; }

void StoreScp::stop_accepting() {
    impl_->stop_accept = true;
    if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
    // New connections are refused from here on; the networks themselves are dropped in the
    // destructor, once no association uses them any more.
    for (auto& l : impl_->listeners)
        if (l.net)
            shutdown(reinterpret_cast<PRIVATE_NETWORKKEY*>(l.net->network)->networkSpecific.TCP.listenSocket, SHUT_RDWR);
}

bool StoreScp::wait_idle(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    return impl_->idle_cv.wait_for(lock, limit, [this] { return impl_->active == 0; });
}

void StoreScp::abort_all() {
    impl_->abort = true;
    impl_->watchdog();  // requests still being read end now
}

int StoreScp::active_associations() const {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    return impl_->active;
}

std::uint64_t StoreScp::refusals(Refusal why) const { return impl_->refusals.total(why); }

}  // namespace dimse
