#include "keystore/BrokerConnection.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "keystore/Frame.h"

namespace keystore {

namespace asio = boost::asio;
using boost::system::error_code;
using Protocol = asio::local::stream_protocol;

struct BrokerConnection::Impl {
    std::string socket_path;
    std::chrono::milliseconds timeout;
    asio::io_context io;
    Protocol::socket socket{io};
    bool connected = false;

    // Runs the queued asynchronous operations, bounded by `timeout`.
    void run_bounded(const char* what) {
        io.restart();
        io.run_for(timeout);
        if (!io.stopped()) {  // timed out: cancel and drain
            error_code ignored;
            socket.close(ignored);
            connected = false;
            io.restart();
            io.run();
            throw BrokerUnreachable(std::string("keystore broker: timed out while ") + what);
        }
    }

    void fail(const char* what, const error_code& ec) {
        error_code ignored;
        socket.close(ignored);
        connected = false;
        throw BrokerUnreachable(std::string("keystore broker: ") + what + " failed: " + ec.message());
    }

    void connect() {
        if (connected) return;
        error_code ignored;
        socket.close(ignored);
        error_code result = asio::error::would_block;
        socket.async_connect(Protocol::endpoint(socket_path), [&](const error_code& ec) { result = ec; });
        run_bounded("connecting");
        if (result) fail("connecting to the socket", result);
        connected = true;
    }

    void close_quietly() {
        error_code ignored;
        socket.close(ignored);
        connected = false;
    }

    // The broker at keystore.limits.max_connections writes one refusal frame and closes before
    // reading: the request's write then fails, but the refusal is already here to be reported.
    bool refusal_waiting(std::string& body) {
        error_code ec;
        unsigned char header[4];
        if (socket.available(ec) < 4 || ec) return false;
        asio::read(socket, asio::buffer(header, 4), ec);
        if (ec) return false;
        const std::uint32_t length = frame_length(header);
        if (length > kMaxFrameBytes || socket.available(ec) < length || ec) return false;
        body.resize(length);
        asio::read(socket, asio::buffer(&body[0], length), ec);
        return !ec;
    }

    // Waits until the socket is ready for `events` or the deadline passes; false on a timeout.
    bool wait_ready(short events, std::chrono::steady_clock::time_point deadline) {
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now()).count();
            if (left <= 0) return false;
            pollfd p{socket.native_handle(), events, 0};
            const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left + 1, 60 * 1000)));
            if (n > 0) return true;
            if (n < 0 && errno != EINTR) return true;  // the next send or recv reports the error
        }
    }

    void timed_out(const char* what) {
        close_quietly();
        throw BrokerUnreachable(std::string("keystore broker: timed out while ") + what);
    }

    // One request and its reply, with the socket's own calls and one deadline for the whole
    // exchange: a send, a poll and (the reply being one frame, usually there whole) one recv.
    // Through Asio's io_context the same exchange took about seven system calls and the
    // scheduler's bookkeeping, on every instance's way through a worker (docs/operations.md).
    std::string exchange(const std::string& bytes) {
        connect();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        const int fd = socket.native_handle();
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_ready(POLLOUT, deadline)) timed_out("waiting for the reply");
                continue;
            }
            const error_code ec(errno, boost::system::system_category());
            std::string refusal;
            if (refusal_waiting(refusal)) {
                close_quietly();
                return refusal;
            }
            fail("the request", ec);
        }
        // The reply: a 4-byte length, then the body.
        std::string reply(16 * 1024, '\0');  // grown to the frame's length when it is longer
        std::size_t have = 0;
        std::size_t want = 4;
        for (;;) {
            if (have >= want) {
                if (want == 4) {
                    const std::uint32_t length = frame_length(reinterpret_cast<const unsigned char*>(reply.data()));
                    if (length > kMaxFrameBytes) fail("the request", asio::error::message_size);
                    want = 4 + static_cast<std::size_t>(length);
                    if (reply.size() < want) reply.resize(want);
                    if (have >= want) break;
                } else {
                    break;
                }
            }
            if (!wait_ready(POLLIN, deadline)) timed_out("waiting for the reply");
            const ssize_t n = ::recv(fd, &reply[have], reply.size() - have, MSG_DONTWAIT);
            if (n > 0) {
                have += static_cast<std::size_t>(n);
                continue;
            }
            if (n == 0) fail("the request", asio::error::eof);
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            fail("the request", error_code(errno, boost::system::system_category()));
        }
        // The broker answers one request at a time on a connection: nothing follows the reply.
        reply.resize(want);
        reply.erase(0, 4);
        return reply;
    }
};

BrokerConnection::BrokerConnection(std::string socket_path, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->socket_path = std::move(socket_path);
    impl_->timeout = timeout;
}

BrokerConnection::~BrokerConnection() { close(); }

bool BrokerConnection::connected() const { return impl_->connected; }

void BrokerConnection::close() {
    error_code ignored;
    impl_->socket.close(ignored);
    impl_->connected = false;
}

std::string BrokerConnection::request_raw(const std::string& bytes) { return impl_->exchange(bytes); }

nlohmann::json BrokerConnection::request(const nlohmann::json& request) {
    const std::string body = impl_->exchange(frame(request.dump()));
    try {
        return nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception&) {
        close();
        throw BrokerUnreachable("keystore broker: the reply is not valid JSON");
    }
}

}  // namespace keystore
