#include "config/Config.h"

#include <algorithm>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace {

// The problems reported for `json_text`, or an empty list when it loads.
std::vector<std::string> problems(const std::string& json_text) {
    try {
        config::parse(json_text, "/base");
    } catch (const config::ConfigError& e) {
        return e.problems();
    }
    return {};
}

bool has_problem(const std::vector<std::string>& list, const std::string& text) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& p) { return p == text; });
}

bool has_problem_starting(const std::vector<std::string>& list, const std::string& prefix) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& p) { return p.rfind(prefix, 0) == 0; });
}

}  // namespace

TEST_CASE("an empty file gives the documented defaults") {
    const config::Config c = config::parse("{}", "/base");
    CHECK(c.state_dir == "/base/var");
    CHECK(c.listen.ae_title == "DEIDGW");
    CHECK(c.listen.port == 11112);
    CHECK(c.listen.bind == "127.0.0.1");
    CHECK(c.workers == 2);
    REQUIRE(c.destinations.size() == 1);
    CHECK(c.destinations[0].name == "outbox");
    CHECK(c.destinations[0].directory == "/base/var/outbox");
    CHECK(c.profile.options == std::vector<std::string>{
        "retain_long_modified_dates", "retain_patient_characteristics", "retain_safe_private",
        "clean_descriptors", "clean_structured_content", "clean_graphics", "clean_pixel_data"});
    CHECK(c.spool.journal_bytes == 32u << 20);
    CHECK(c.keystore.date_offset_min_days == -365);
    CHECK(c.keystore.date_offset_max_days == -1);
    CHECK(c.broker_socket() == "/base/var/run/keystore.sock");
}

TEST_CASE("a file only needs the keys it changes") {
    const config::Config c = config::parse(R"({"listen": {"port": 4242}, "workers": 3})", "/base");
    CHECK(c.listen.port == 4242);
    CHECK(c.listen.ae_title == "DEIDGW");  // sibling key keeps its default
    CHECK(c.workers == 3);
}

TEST_CASE("wrong types name the key path, what was expected and what was given") {
    CHECK(has_problem(problems(R"({"listen": {"port": "abc"}})"),
                      R"(listen.port: expected an integer 0..65535, got "abc")"));
    CHECK(has_problem(problems(R"({"workers": "4"})"), R"(workers: expected an integer 1..256, got "4")"));
    CHECK(has_problem(problems(R"({"state_dir": 7})"), "state_dir: expected a non-empty string, got 7"));
    CHECK(has_problem(problems(R"({"listen": 5})"), "listen: expected an object, got 5"));
    CHECK(has_problem(problems(R"({"profile": {"options": "clean_descriptors"}})"),
                      R"(profile.options: expected an array of strings, got "clean_descriptors")"));
    CHECK(has_problem(problems(R"({"pixels": {"verify": "yes"}})"), R"(pixels.verify: expected true or false, got "yes")"));
}

TEST_CASE("bad values are refused") {
    CHECK(has_problem(problems(R"({"listen": {"port": 0}})"), "listen.port: 0 (no plain listener) needs listen.tls"));
    CHECK(has_problem(problems(R"({"listen": {"port": 70000}})"), "listen.port: expected an integer 0..65535, got 70000"));
    CHECK(has_problem_starting(problems(R"({"listen": {"ae_title": "THIS_TITLE_IS_TOO_LONG"}})"),
                               "listen.ae_title: expected an AE title"));
    CHECK(has_problem_starting(problems(R"({"profile": {"options": ["retain_everything"]}})"),
                               "profile.options[0]: expected a PS3.15 option name"));
    CHECK(has_problem_starting(problems(R"({"profile": {"options": ["retain_long_full_dates", "retain_long_modified_dates"]}})"),
                               "profile.options: expected at most one of"));
    CHECK(has_problem_starting(problems(R"({"keystore": {"date_offset_max_days": 0}})"),
                               "keystore.date_offset_max_days: expected an integer -36500..-1"));
    CHECK(has_problem_starting(problems(R"({"pixels": {"fill": "blur"}})"), "pixels.fill: expected one of background, inpaint"));
    CHECK(has_problem_starting(problems(R"({"retry": {"base_ms": 5000, "cap_ms": 10}})"), "retry.cap_ms: expected a value >= retry.base_ms"));
    CHECK(has_problem_starting(problems(R"({"profile": {"rules": [{"tag": "NotAKeyword", "action": "keep"}]}})"),
                               "profile.rules[0].tag: expected"));
    CHECK(has_problem_starting(problems(R"j({"profile": {"rules": [{"tag": "(0008,0080)", "action": "replace"}]}})j"),
                               "profile.rules[0].value: required for action replace"));
    CHECK(has_problem_starting(problems(R"({"spool": {"journal_bytes": 1000000}})"),
                               "spool.journal_bytes: expected 0 (no journal) or 4194304 to 4294967296 bytes"));
    CHECK(problems(R"({"spool": {"journal_bytes": 0}})").empty());
    const std::string outside =
        R"({"pixels": {"regions": [{"manufacturer": "X", "rows": 10, "columns": 10, "rects": [[5, 5, 10, 2]]}]}})";
    CHECK(has_problem_starting(problems(outside),
                               "pixels.regions[0].rects[0]: expected [x, y, width, height] inside rows x columns"));
}

TEST_CASE("unknown keys are errors, at any depth") {
    CHECK(has_problem_starting(problems(R"({"listne": {}})"), "listne: unknown key"));
    CHECK(has_problem_starting(problems(R"({"listen": {"aetitle": "X"}})"), "listen.aetitle: unknown key"));
    CHECK(has_problem_starting(problems(R"({"destinations": [{"name": "a", "directory": "d", "colour": 1}]})"),
                               "destinations[0].colour: unknown key"));
}

TEST_CASE("destinations are either a folder or a DICOM peer") {
    const config::Config c = config::parse(
        R"({"destinations": [{"name": "pacs", "ae_title": "RESEARCH", "host": "127.0.0.1", "port": 104},
                             {"name": "copy", "directory": "/data/copy"}]})", "/base");
    REQUIRE(c.destinations.size() == 2);
    CHECK_FALSE(c.destinations[0].is_folder());
    CHECK(c.destinations[0].associations == 4);
    CHECK(c.destinations[1].directory == "/data/copy");

    CHECK(has_problem_starting(problems(R"({"destinations": [{"name": "x"}]})"), "destinations[0]: expected either"));
    CHECK(has_problem(problems(R"({"destinations": [{"name": "x", "ae_title": "A", "host": "h"}]})"),
                      "destinations[0].port: required for a DICOM peer, missing"));
    CHECK(has_problem_starting(problems(R"({"destinations": [{"name": "x", "directory": "a"}, {"name": "x", "directory": "b"}]})"),
                               "destinations[1].name: expected a unique name"));
}

TEST_CASE("every problem in a file is reported at once") {
    const auto list = problems(R"({"workers": 0, "listen": {"port": -1}, "nope": true})");
    CHECK(list.size() == 3);
}

TEST_CASE("malformed JSON is a config error, not a crash") {
    CHECK(has_problem_starting(problems("{\"workers\": "), "(file): expected valid JSON"));
    CHECK(has_problem_starting(problems("[1, 2]"), "(top level): expected an object"));
}

TEST_CASE("print-config output loads back to the same config") {
    const config::Config a = config::parse(R"({"listen": {"port": 2000}, "profile": {"rules": [{"tag": "InstitutionName", "action": "replace", "value": "SITE"}]}})", "/base");
    REQUIRE(a.profile.rules.size() == 1);
    CHECK(a.profile.rules[0].group == 0x0008);
    CHECK(a.profile.rules[0].element == 0x0080);
    const config::Config b = config::parse(config::to_json(a), "/elsewhere");
    CHECK(config::to_json(a) == config::to_json(b));
}

TEST_CASE("listen: known callers, limits and TLS are read and checked with their key paths") {
    const auto c = config::parse(R"({"listen": {"known_callers": [{"ae_title": "CT1", "host": "10.1.0.0/16"},
        {"ae_title": "PACS", "host": "10.2.3.4", "certificate_subject": "CN=pacs,O=H"}],
        "limits": {"associations_per_host": 8}, "port": 0,
        "tls": {"certificate": "tls/gw.crt", "private_key": "/etc/gw.key", "trusted_certificates": "tls/ca.crt",
                "min_version": "1.3", "profile": "BCP195-ND"}}, "state_dir": "/srv/gw"})", "/base");
    REQUIRE(c.listen.known_callers.size() == 2);
    CHECK(c.listen.known_callers[0].host == "10.1.0.0/16");
    CHECK(c.listen.known_callers[1].certificate_subject == "CN=pacs,O=H");
    CHECK(c.listen.limits.associations_per_host == 8);
    CHECK(c.listen.limits.connections_per_host == 40);  // sibling keeps its default
    CHECK(c.listen.port == 0);
    CHECK(c.listen.tls.enabled);
    CHECK(c.listen.tls.port == 2762);
    CHECK(c.listen.tls.certificate == "/base/tls/gw.crt");  // relative to the config file's folder
    CHECK(c.listen.tls.private_key == "/etc/gw.key");
    CHECK(c.listen.tls.require_client_certificate);
    CHECK(c.listen.tls.min_version == "1.3");
    CHECK(c.listen.tls.profile == "BCP195-ND");
    CHECK_FALSE(config::parse("{}").listen.tls.enabled);

    CHECK(has_problem(problems(R"({"listen": {"known_callers": [{"ae_title": "CT1", "host": "10.1.0.0/33"}]}})"),
                      R"(listen.known_callers[0].host: expected an IP address or a CIDR block ("10.1.0.0/16"), got "10.1.0.0/33")"));
    CHECK(has_problem_starting(problems(R"({"listen": {"known_callers": [{"host": "10.1.2.3"}]}})"),
                               "listen.known_callers[0].ae_title: expected an AE title"));
    CHECK(has_problem(problems(R"({"listen": {"limits": {"connections_per_host": 0}}})"),
                      "listen.limits.connections_per_host: expected an integer 1..65536, got 0"));
    CHECK(has_problem(problems(R"({"listen": {"tls": {"private_key": "k"}}})"),
                      "listen.tls.certificate: expected a non-empty string, got null"));
    CHECK(has_problem_starting(problems(R"({"listen": {"tls": {"certificate": "c", "private_key": "k"}}})"),
                               "listen.tls.trusted_certificates: required when listen.tls.require_client_certificate"));
    CHECK(has_problem_starting(problems(R"({"listen": {"tls": {"certificate": "c", "private_key": "k",
        "require_client_certificate": false, "min_version": "1.1"}}})"), "listen.tls.min_version: expected one of 1.2, 1.3"));
    CHECK(has_problem_starting(problems(R"({"listen": {"tls": {"certificate": "c", "private_key": "k",
        "require_client_certificate": false, "profile": "AES"}}})"), "listen.tls.profile: expected one of BCP195"));
    CHECK(has_problem_starting(problems(R"({"listen": {"known_callers": [{"ae_title": "A", "host": "::1",
        "certificate_subject": "CN=a"}]}})"), "listen.known_callers: certificate_subject needs listen.tls"));
}

TEST_CASE("keystore limits and destination TLS keys are read, with errors naming the key path") {
    const config::Config c = config::parse(R"({"keystore": {"limits": {"questions_per_second": 50, "max_connections": 8},
        "audit_interval_seconds": 5, "alarm": {"new_patients_per_instance": 0.25}},
        "destinations": [{"name": "r", "ae_title": "R", "host": "10.0.0.5", "port": 2762,
          "tls": {"certificate": "tls/gw.crt", "private_key": "tls/gw.key", "trusted_certificates": "/etc/ca.crt",
                  "server_name": "research-pacs"}}]})",
                                           "/base");
    CHECK(c.keystore.limits.questions_per_second == 50);
    CHECK(c.keystore.limits.max_connections == 8);
    CHECK(c.keystore.limits.values_per_second == 20000);  // default kept
    CHECK(c.keystore.audit_interval_seconds == 5);
    CHECK(c.keystore.alarm.new_patients_per_instance == 0.25);
    REQUIRE(c.destinations[0].tls);
    CHECK(c.destinations[0].tls->certificate == "/base/tls/gw.crt");  // relative to the config file's folder
    CHECK(c.destinations[0].tls->trusted_certificates == "/etc/ca.crt");
    CHECK(c.destinations[0].tls->verify_peer);  // on by default
    CHECK(c.destinations[0].tls->server_name == "research-pacs");
    CHECK_FALSE(config::parse("{}", "/base").destinations[0].tls);

    CHECK(has_problem_starting(problems(R"({"keystore": {"limits": {"max_frame_bytes": 1000}}})"),
                               "keystore.limits.max_frame_bytes: expected an integer 65536..1048576"));
    CHECK(has_problem_starting(problems(R"({"keystore": {"limits": {"per_second": 1}}})"), "keystore.limits.per_second: unknown key"));
    CHECK(has_problem_starting(problems(R"({"keystore": {"alarm": {"new_patients_per_instance": "x"}}})"),
                               "keystore.alarm.new_patients_per_instance: expected a number"));
    const std::string peer = R"({"destinations": [{"name": "r", "ae_title": "R", "host": "h", "port": 1, "tls": )";
    CHECK(has_problem_starting(problems(peer + R"({"verify_peer": "no", "trusted_certificates": "c"}}]})"),
                               "destinations[0].tls.verify_peer: expected true or false"));
    CHECK(has_problem_starting(problems(peer + R"({"server_name": "x"}}]})"), "destinations[0].tls.trusted_certificates: required"));
    CHECK(has_problem_starting(problems(peer + R"({"certificate": "a.crt", "trusted_certificates": "c"}}]})"),
                               "destinations[0].tls: expected both"));
    CHECK(has_problem_starting(problems(peer + R"({"cert": "a.crt"}}]})"), "destinations[0].tls.cert: unknown key"));
    CHECK(has_problem_starting(problems(R"({"destinations": [{"name": "f", "directory": "out", "tls": {}}]})"),
                               "destinations[0].tls: only for a DICOM peer"));
    CHECK(problems(peer + R"({"verify_peer": false}}]})").empty());  // a test peer without verification
}
