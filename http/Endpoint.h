// The HTTP endpoint's decisions, without sockets (Beast's handle_request): one request in, one
// response out.
//   GET /metrics       Prometheus text format (metrics::Registry)
//   GET /healthz       200 {"alive": true} while the process serves requests
//   GET /readyz        200 or 503 with {"ready": ..., "checks": {...}} (http::readiness)
//   GET /              the status page (HTML)
//   GET /status.json   the snapshot as JSON (what `deid-gateway status` prints)
// HEAD is answered like GET without a body; other methods get 405, other targets 404.
#pragma once

#include <functional>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/StatusSnapshot.h"
#include "metrics/Registry.h"

namespace http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using SnapshotProvider = std::function<StatusSnapshot()>;

class Endpoint {
public:
    Endpoint(const metrics::Registry& registry, SnapshotProvider snapshot);
    Response handle(const Request& request) const;

private:
    const metrics::Registry& registry_;
    SnapshotProvider snapshot_;
};

}  // namespace http
