// A small blocking HTTP/1.1 GET with Boost.Beast and a deadline: what `deid-gateway status` and
// the tests use to read the endpoint.
#pragma once

#include <chrono>
#include <string>
#include <system_error>

namespace http {

struct GetResult {
    std::error_code error;  // connect/read failure or timeout; then status is 0
    int status = 0;
    std::string content_type;
    std::string body;
};

GetResult get(const std::string& host, int port, const std::string& target,
              std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace http
