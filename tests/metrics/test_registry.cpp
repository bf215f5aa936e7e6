#include "metrics/Registry.h"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using metrics::Registry;

TEST_CASE("a counter family with labels is exposed with HELP, TYPE and one sample per label set") {
    Registry r;
    r.counter("deid_delivered_total", "Instances delivered.", {{"destination", "pacs"}}).inc(3);
    r.counter("deid_delivered_total", "Instances delivered.", {{"destination", "outbox"}}).inc();
    // The same name and labels return the same counter.
    r.counter("deid_delivered_total", "Instances delivered.", {{"destination", "pacs"}}).inc(2);
    const auto text = r.exposition();
    CHECK(text ==
          "# HELP deid_delivered_total Instances delivered.\n"
          "# TYPE deid_delivered_total counter\n"
          "deid_delivered_total{destination=\"outbox\"} 1\n"
          "deid_delivered_total{destination=\"pacs\"} 5\n");
}

TEST_CASE("gauges keep fractional values and label values are escaped") {
    Registry r;
    r.gauge("deid_broker_round_trip_seconds", "Last health round trip.").set(0.00125);
    r.gauge("deid_queue_depth", "Queued.", {{"destination", "a\"b\\c\nd"}}).set(7);
    const auto text = r.exposition();
    CHECK(text.find("deid_broker_round_trip_seconds 0.00125") != std::string::npos);
    CHECK(text.find("deid_queue_depth{destination=\"a\\\"b\\\\c\\nd\"} 7\n") != std::string::npos);
}

TEST_CASE("a histogram exposes cumulative buckets, +Inf, sum and count") {
    Registry r;
    auto& h = r.histogram("deid_stage_seconds", "Time per stage.", {0.1, 1}, {{"stage", "deidentify"}});
    h.observe(0.05);
    h.observe(0.1);  // le is inclusive
    h.observe(0.5);
    h.observe(3);
    const auto text = r.exposition();
    CHECK(text.find("# TYPE deid_stage_seconds histogram\n") != std::string::npos);
    CHECK(text.find("deid_stage_seconds_bucket{stage=\"deidentify\",le=\"0.1\"} 2\n") != std::string::npos);
    CHECK(text.find("deid_stage_seconds_bucket{stage=\"deidentify\",le=\"1\"} 3\n") != std::string::npos);
    CHECK(text.find("deid_stage_seconds_bucket{stage=\"deidentify\",le=\"+Inf\"} 4\n") != std::string::npos);
    const std::string sum_key = "deid_stage_seconds_sum{stage=\"deidentify\"} ";
    const auto at = text.find(sum_key);
    REQUIRE(at != std::string::npos);
    CHECK(std::stod(text.substr(at + sum_key.size())) == Approx(3.65));
    CHECK(text.find("deid_stage_seconds_count{stage=\"deidentify\"} 4\n") != std::string::npos);
}

TEST_CASE("a bad metric or label name, a type clash and unsorted bounds are refused") {
    Registry r;
    CHECK_THROWS_AS(r.counter("9starts_with_digit", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("has-dash", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("ok_name", "x", {{"bad-label", "v"}}), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("ok_name", "x", {{"le", "v"}}), std::invalid_argument);
    r.counter("deid_x_total", "x");
    CHECK_THROWS_AS(r.gauge("deid_x_total", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.histogram("deid_h", "h", {1, 0.5}), std::invalid_argument);
}

TEST_CASE("collect hooks run before every exposition") {
    Registry r;
    auto& g = r.gauge("deid_spool_bytes", "Bytes held.");
    int calls = 0;
    r.add_collect_hook([&] { g.set(++calls * 100); });
    CHECK(r.exposition().find("deid_spool_bytes 100\n") != std::string::npos);
    CHECK(r.exposition().find("deid_spool_bytes 200\n") != std::string::npos);
}

TEST_CASE("counters and histograms count exactly from several threads") {
    Registry r;
    auto& c = r.counter("deid_c_total", "c");
    auto& h = r.histogram("deid_h_seconds", "h", {1});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                c.inc();
                h.observe(0.5);
            }
        });
    for (auto& t : threads) t.join();
    CHECK(c.value() == 40000);
    CHECK(h.snapshot().count == 40000);
    CHECK(h.snapshot().cumulative.front() == 40000);
}
