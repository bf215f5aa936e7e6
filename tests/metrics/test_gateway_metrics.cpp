#include "metrics/GatewayMetrics.h"

#include <catch2/catch.hpp>

using metrics::GatewayMetrics;

TEST_CASE("gateway metrics start at zero per destination and follow delivery outcomes") {
    metrics::Registry r;
    GatewayMetrics m(r, {"pacs", "outbox"}, "0.1.0");
    auto text = r.exposition();
    CHECK(text.find("deid_build_info{version=\"0.1.0\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_delivered_total{destination=\"pacs\"} 0\n") != std::string::npos);
    CHECK(text.find("deid_queue_depth{destination=\"outbox\"} 0\n") != std::string::npos);
    CHECK(text.find("deid_associations_total{outcome=\"aborted\"} 0\n") != std::string::npos);

    m.delivery_failed("pacs", "connect-failed");
    auto d = m.destination("pacs");
    CHECK(d.failing);
    CHECK(d.last_error == "connect-failed");
    CHECK_FALSE(d.last_error_at.empty());
    m.delivered("pacs", 0.2, 0.01);
    m.cstore(0xA700);
    m.association(true);
    m.association_aborted();
    m.quarantined("receive", "malformed");
    d = m.destination("pacs");
    CHECK_FALSE(d.failing);
    CHECK(d.delivered == 1);
    CHECK(d.last_error == "connect-failed");  // kept: the last error, with its time
    text = r.exposition();
    CHECK(text.find("deid_delivered_total{destination=\"pacs\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_delivery_failures_total{destination=\"pacs\",reason=\"connect-failed\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_cstore_requests_total{status=\"A700\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_associations_total{outcome=\"accepted\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_associations_total{outcome=\"aborted\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_instances_quarantined_total{stage=\"receive\",reason=\"malformed\"} 1\n") != std::string::npos);
    CHECK(text.find("deid_end_to_end_latency_seconds_count{destination=\"pacs\"} 1\n") != std::string::npos);
    const auto rates = m.throughput();
    REQUIRE(rates.size() == 4);
    CHECK(rates[2].what == "delivered");
    CHECK(rates[2].last_1m == Approx(1.0));
}
