#include "http/HttpServer.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 1024;
constexpr auto kRequestDeadline = std::chrono::seconds(10);
constexpr auto kIdleDeadline = std::chrono::seconds(30);

// One connection: read a request, write its response, again while keep-alive (Beast's example).
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, const Endpoint& endpoint, std::atomic<int>& open)
        : stream_(std::move(socket)), endpoint_(endpoint), open_(open) {}
    ~Session() { --open_; }

    void run() { asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(true); }); }

private:
    void do_read(bool first) {
        parser_.emplace();
        parser_->header_limit(kHeaderLimit);
        parser_->body_limit(kBodyLimit);
        stream_.expires_after(first ? kRequestDeadline : kIdleDeadline);
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(error_code ec) {
        if (ec == bhttp::error::end_of_stream) return do_close();
        if (ec) {
            // Over a limit or malformed: answer once, then close. A timeout just closes.
            if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
                response_ = Response{bhttp::status::bad_request, 11};
                response_.set(bhttp::field::content_type, "application/json");
                response_.body() = R"({"error":"bad request"})" "\n";
                response_.keep_alive(false);
                response_.prepare_payload();
                return do_write();
            }
            return;
        }
        response_ = endpoint_.handle(parser_->get());
        do_write();
    }

    void do_write() {
        stream_.expires_after(kRequestDeadline);
        bhttp::async_write(stream_, response_, [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) return;
            if (!self->response_.keep_alive()) return self->do_close();
            self->do_read(false);
        });
    }

    void do_close() {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream stream_;
    const Endpoint& endpoint_;
    std::atomic<int>& open_;
    beast::flat_buffer buffer_{kHeaderLimit + kBodyLimit};
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    Response response_;
};

}  // namespace

struct HttpServer::Impl {
    ServerSettings settings;
    const Endpoint& endpoint;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    std::atomic<int> open{0};
    std::thread thread;
    int port = 0;

    Impl(ServerSettings s, const Endpoint& e) : settings(std::move(s)), endpoint(e) {}

    void do_accept() {
        acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (open.load() >= settings.max_connections) {
                    error_code ignored;
                    socket.close(ignored);
                } else {
                    ++open;
                    std::make_shared<Session>(std::move(socket), endpoint, open)->run();
                }
            }
            do_accept();
        });
    }
};

HttpServer::HttpServer(ServerSettings settings, const Endpoint& endpoint)
    : impl_(std::make_unique<Impl>(std::move(settings), endpoint)) {}

HttpServer::~HttpServer() { stop(); }

std::error_code HttpServer::start() {
    error_code ec;
    const auto address = asio::ip::make_address(impl_->settings.bind, ec);
    if (ec) return std::make_error_code(std::errc::invalid_argument);
    const tcp::endpoint at(address, static_cast<unsigned short>(impl_->settings.port));
    auto& a = impl_->acceptor;
    if (a.open(at.protocol(), ec); ec) return std::error_code(ec.value(), std::system_category());
    a.set_option(asio::socket_base::reuse_address(true), ec);
    if (a.bind(at, ec); ec) return std::error_code(ec.value(), std::system_category());
    if (a.listen(asio::socket_base::max_listen_connections, ec); ec)
        return std::error_code(ec.value(), std::system_category());
    impl_->port = a.local_endpoint().port();
    impl_->do_accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
    return {};
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->io.stop();  // drops the acceptor's and every session's pending operations
    impl_->thread.join();
    error_code ignored;
    impl_->acceptor.close(ignored);
}

}  // namespace http
