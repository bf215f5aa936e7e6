// The HTTP endpoint's server: Boost.Beast over Asio on one thread of its own, serving
// http::Endpoint. Every request is read with a size limit (8 KiB of header, 1 KiB of body) and a
// deadline (10 s per request, 30 s idle keep-alive), so a slow or hostile client holds only its
// own connection; beyond max_connections a new connection is closed at once.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "http/Endpoint.h"

namespace http {

struct ServerSettings {
    std::string bind = "127.0.0.1";
    int port = 11180;  // 0 = an ephemeral port (see HttpServer::port())
    int max_connections = 32;
};

class HttpServer {
public:
    HttpServer(ServerSettings settings, const Endpoint& endpoint);
    ~HttpServer();  // stop()
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts the server thread.
    std::error_code start();
    int port() const;
    void stop();  // closes the listener and every connection; joins the thread

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace http
