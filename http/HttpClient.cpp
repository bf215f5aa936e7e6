#include "http/HttpClient.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

GetResult get(const std::string& host, int port, const std::string& target, std::chrono::milliseconds limit) {
    GetResult result;
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "deid-gateway");
    req.keep_alive(false);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        result.error = std::make_error_code(std::errc::invalid_argument);
        return result;
    }
    stream.expires_after(limit);
    stream.async_connect(tcp::endpoint(address, static_cast<unsigned short>(port)), [&](boost::system::error_code e) {
        if (e) {
            ec = e;
            return;
        }
        bhttp::async_write(stream, req, [&](boost::system::error_code e2, std::size_t) {
            if (e2) {
                ec = e2;
                return;
            }
            bhttp::async_read(stream, buffer, parser, [&](boost::system::error_code e3, std::size_t) { ec = e3; });
        });
    });
    io.run();
    if (ec) {
        result.error = std::error_code(ec.value(), std::system_category());
        if (ec == beast::error::timeout) result.error = std::make_error_code(std::errc::timed_out);
        return result;
    }
    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    result.content_type = std::string(res[bhttp::field::content_type]);
    result.body = res.body();
    return result;
}

}  // namespace http
