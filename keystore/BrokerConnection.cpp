#include "keystore/BrokerConnection.h"

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

    std::string exchange(const std::string& bytes) {
        connect();
        error_code result = asio::error::would_block;
        bool written_failed = false;
        unsigned char header[4];
        std::string body;
        asio::async_write(socket, asio::buffer(bytes), [&](const error_code& ec, std::size_t) {
            if (ec) { result = ec; written_failed = true; return; }
            asio::async_read(socket, asio::buffer(header, 4), [&](const error_code& ec2, std::size_t) {
                if (ec2) { result = ec2; return; }
                const std::uint32_t length = frame_length(header);
                if (length > kMaxFrameBytes) { result = asio::error::message_size; return; }
                body.resize(length);
                asio::async_read(socket, asio::buffer(&body[0], length),
                                 [&](const error_code& ec3, std::size_t) { result = ec3; });
            });
        });
        run_bounded("waiting for the reply");
        if (result && written_failed && refusal_waiting(body)) {
            close_quietly();
            return body;
        }
        if (result) fail("the request", result);
        return body;
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
