// dimse/Tls: the checks made on a `tls` object's files at start and on SIGHUP, with certificates made
// by the openssl command line (tests/support/make-test-pki.sh). Handshakes with real peers are tested
// where the listener and the destinations use the layer.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "dimse/Tls.h"
#include "tests/support/Process.h"

using Catch::Matchers::Contains;
using dimse::TlsRole;
using dimse::TlsSettings;

namespace {

// One PKI for the whole test program (RSA key generation is slow on a loaded machine).
struct Pki {
    testsupport::TempDir dir;
    Pki() {
        auto r = testsupport::run({std::string(DEID_SOURCE_DIR) + "/tests/support/make-test-pki.sh", dir.path()},
                                  std::chrono::seconds(120));
        REQUIRE(r.exit_code == 0);
    }
    TlsSettings settings(const std::string& name) const {
        TlsSettings s;
        s.certificate = dir / (name + ".crt");
        s.private_key = dir / (name + ".key");
        s.trusted_certificates = dir / "ca.crt";
        return s;
    }
};

const Pki& test_pki() {
    static Pki pki;
    return pki;
}

}  // namespace

TEST_CASE("tls: a certificate, its key and a trusted CA make a layer for either role", "[tls]") {
    const Pki& pki = test_pki();
    std::string error;
    CHECK(dimse::make_tls_layer(TlsRole::server, pki.settings("server"), error) != nullptr);
    INFO(error);
    CHECK(dimse::make_tls_layer(TlsRole::client, pki.settings("client"), error) != nullptr);

    // A folder of trusted certificates, minimum TLS 1.3, another profile.
    TlsSettings s = pki.settings("server");
    s.trusted_certificates = pki.dir.path();
    s.min_version = dimse::TlsVersion::v1_3;
    s.profile = dimse::TlsProfile::bcp195_nd;
    CHECK(dimse::make_tls_layer(TlsRole::server, s, error) != nullptr);

    // A client without a certificate of its own that still verifies the server.
    TlsSettings anonymous;
    anonymous.trusted_certificates = pki.dir / "ca.crt";
    anonymous.server_name = "localhost";
    CHECK(dimse::make_tls_layer(TlsRole::client, anonymous, error) != nullptr);
}

TEST_CASE("tls: unusable files are refused with a message naming the file", "[tls]") {
    const Pki& pki = test_pki();
    std::string error;

    SECTION("a private key readable by others") {
        TlsSettings s = pki.settings("server");
        ::chmod(s.private_key.c_str(), 0644);
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        ::chmod(s.private_key.c_str(), 0600);
        CHECK_THAT(error, Contains(s.private_key) && Contains("accessible to others") &&
                              Contains("0644"));
    }
    SECTION("an expired certificate") {
        TlsSettings s = pki.settings("expired");
        CHECK(dimse::make_tls_layer(TlsRole::client, s, error) == nullptr);
        CHECK_THAT(error, Contains(s.certificate) && Contains("expired"));
    }
    SECTION("a certificate that is not valid yet") {
        TlsSettings s = pki.settings("future");
        CHECK(dimse::make_tls_layer(TlsRole::client, s, error) == nullptr);
        CHECK_THAT(error, Contains("not valid yet"));
    }
    SECTION("a key that belongs to another certificate") {
        TlsSettings s = pki.settings("server");
        s.private_key = pki.dir / "client.key";
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        CHECK_THAT(error, Contains("does not belong to"));
    }
    SECTION("a missing file, and a key given as the certificate") {
        TlsSettings s = pki.settings("server");
        s.certificate = pki.dir / "missing.crt";
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        CHECK_THAT(error, Contains("missing.crt") && Contains("cannot read"));
        s.certificate = pki.dir / "server.key";
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        CHECK_THAT(error, Contains("not a PEM certificate"));
    }
    SECTION("verification without anything to verify against") {
        TlsSettings s = pki.settings("server");
        s.trusted_certificates.clear();
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        CHECK_THAT(error, Contains("require_client_certificate"));
        CHECK(dimse::make_tls_layer(TlsRole::client, s, error) == nullptr);
        CHECK_THAT(error, Contains("verify_peer"));
    }
    SECTION("a listener without a certificate") {
        TlsSettings s;
        s.trusted_certificates = pki.dir / "ca.crt";
        CHECK(dimse::make_tls_layer(TlsRole::server, s, error) == nullptr);
        CHECK_THAT(error, Contains("needs a certificate"));
    }
}

TEST_CASE("tls: the configuration's spellings of versions and profiles", "[tls]") {
    dimse::TlsVersion v{};
    CHECK(dimse::parse_tls_version("1.3", v));
    CHECK(v == dimse::TlsVersion::v1_3);
    CHECK_FALSE(dimse::parse_tls_version("1.1", v));
    dimse::TlsProfile p{};
    for (auto profile : {dimse::TlsProfile::bcp195, dimse::TlsProfile::bcp195_nd, dimse::TlsProfile::bcp195_extended}) {
        CHECK(dimse::parse_tls_profile(dimse::tls_profile_name(profile), p));
        CHECK(p == profile);
    }
    CHECK_FALSE(dimse::parse_tls_profile("AES", p));
}
