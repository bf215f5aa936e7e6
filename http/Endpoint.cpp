#include "http/Endpoint.h"

#include <boost/beast/version.hpp>

#include "http/StatusPage.h"

namespace http {

namespace bhttp = boost::beast::http;

Endpoint::Endpoint(const metrics::Registry& registry, SnapshotProvider snapshot)
    : registry_(registry), snapshot_(std::move(snapshot)) {}

Response Endpoint::handle(const Request& request) const {
    Response res;
    res.version(request.version());
    res.keep_alive(request.keep_alive());
    res.set(bhttp::field::server, "deid-gateway");
    res.set(bhttp::field::cache_control, "no-store");
    auto reply = [&](bhttp::status status, const char* type, std::string body) {
        res.result(status);
        res.set(bhttp::field::content_type, type);
        res.body() = std::move(body);
        res.prepare_payload();
        if (request.method() == bhttp::verb::head) res.body().clear();  // Content-Length stays
        return res;
    };
    if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
        res.set(bhttp::field::allow, "GET, HEAD");
        return reply(bhttp::status::method_not_allowed, "application/json", R"({"error":"method not allowed"})" "\n");
    }
    // The path only: a query string is ignored.
    std::string target(request.target());
    if (const auto q = target.find('?'); q != std::string::npos) target.resize(q);

    if (target == "/metrics") return reply(bhttp::status::ok, metrics::Registry::kContentType, registry_.exposition());
    if (target == "/healthz") return reply(bhttp::status::ok, "application/json", R"({"alive":true})" "\n");
    if (target == "/readyz") {
        const auto r = readiness(snapshot_());
        return reply(r.ready ? bhttp::status::ok : bhttp::status::service_unavailable, "application/json",
                     r.body.dump() + "\n");
    }
    if (target == "/status.json") {
        const nlohmann::json j = snapshot_();
        return reply(bhttp::status::ok, "application/json", j.dump(2) + "\n");
    }
    if (target == "/" || target == "/index.html")
        return reply(bhttp::status::ok, "text/html; charset=utf-8", render_html(snapshot_()));
    return reply(bhttp::status::not_found, "application/json", R"({"error":"not found"})" "\n");
}

}  // namespace http
