#include "spool/Router.h"

#include <catch2/catch.hpp>

namespace {
config::Destination destination(const std::string& name, config::Match when = {}) {
    config::Destination d;
    d.name = name;
    d.directory = "/tmp/" + name;
    d.when = std::move(when);
    return d;
}
}  // namespace

TEST_CASE("a destination without conditions takes every instance, the others only what matches") {
    config::Match mr;
    mr.modality = {"MR"};
    config::Match from_ct_scanner;
    from_ct_scanner.calling_ae = {"CT1"};
    spool::Router router({destination("all"), destination("mr", mr), destination("ct1", from_ct_scanner)});
    CHECK(router.route({"CT1", "CT", "1.2.840.10008.5.1.4.1.1.2", ""}) == std::vector<std::string>{"all", "ct1"});
    CHECK(router.route({"MRI", "MR", "1.2.840.10008.5.1.4.1.1.4", ""}) == std::vector<std::string>{"all", "mr"});
    CHECK_FALSE(router.needs_manufacturer());
}

TEST_CASE("manufacturer matches a case-insensitive substring, and every condition must hold") {
    config::Match when;
    when.manufacturer = {"siemens"};
    when.sop_class = {"1.2.840.10008.5.1.4.1.1.2"};
    spool::Router router({destination("siemens-ct", when)});
    CHECK(router.needs_manufacturer());
    CHECK(router.route({"X", "CT", "1.2.840.10008.5.1.4.1.1.2", "SIEMENS Healthineers"}).size() == 1);
    CHECK(router.route({"X", "CT", "1.2.840.10008.5.1.4.1.1.4", "SIEMENS"}).empty());
    CHECK(router.route({"X", "CT", "1.2.840.10008.5.1.4.1.1.2", "GE"}).empty());
}
