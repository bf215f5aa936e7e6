// deid-gateway serve with listen.tls (issue 14): a study arrives de-identified over TLS with mutual
// authentication; the TLS files are checked at start; SIGHUP rotates the certificate (the next
// association uses the new one while a running one finishes). Real peers: storescu +tls.
#include "dimse/Tls.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <thread>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

#include "tests/dimse/TestInstances.h"
#include "tests/gateway/GatewayFixture.h"

using namespace std::chrono_literals;
using namespace gwtest;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string make_pki(const testsupport::TempDir& dir) {
    const auto r = testsupport::run({std::string(DEID_SOURCE_DIR) + "/tests/support/make-test-pki.sh", dir.path()}, 120s);
    REQUIRE(r.exit_code == 0);
    return dir.path();
}

json tls_listen(const std::string& tls_dir, int tls_port) {
    return {{"listen", {{"tls", {{"port", tls_port}, {"certificate", tls_dir + "/server.crt"},
                                 {"private_key", tls_dir + "/server.key"}, {"trusted_certificates", tls_dir + "/ca.crt"},
                                 {"require_client_certificate", true}}}}}};
}

testsupport::RunResult storescu_tls(const std::string& pki, const std::string& server_ca, int port,
                                    const std::vector<std::string>& files) {
    std::vector<std::string> argv = {"storescu", "-v", "+tls", pki + "/client.key", pki + "/client.crt", "+cf", server_ca,
                                     "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1", std::to_string(port)};
    argv.insert(argv.end(), files.begin(), files.end());
    return testsupport::run(with_shim(argv), 60s);
}

bool wait_for_log(const Gateway& gw, const std::string& text, std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (gw.log().find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

// A Verification association over TLS (DCMTK, dimse::make_tls_layer as the client), kept open.
class TlsAssociation {
public:
    TlsAssociation(int port, const std::string& pki, const std::string& server_ca) {
        dimse::TlsSettings s;
        s.certificate = pki + "/client.crt";
        s.private_key = pki + "/client.key";
        s.trusted_certificates = server_ca;
        std::string error;
        layer_ = dimse::make_tls_layer(dimse::TlsRole::client, s, error);
        if (!layer_ || ASC_initializeNetwork(NET_REQUESTOR, 0, 10, &net_).bad()) return;
        ASC_setTransportLayer(net_, layer_.get(), 0);
        T_ASC_Parameters* params = nullptr;
        ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
        ASC_setAPTitles(params, "MODALITY", "DEIDGW", nullptr);
        const std::string peer = "127.0.0.1:" + std::to_string(port);
        ASC_setPresentationAddresses(params, "localhost", peer.c_str());
        ASC_setTransportLayerType(params, OFTrue);
        const char* ts[] = {UID_LittleEndianImplicitTransferSyntax};
        ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, ts, 1);
        if (ASC_requestAssociation(net_, params, &assoc_).bad()) {
            ASC_destroyAssociation(&assoc_);
            assoc_ = nullptr;
        }
    }
    ~TlsAssociation() {
        if (assoc_) {
            ASC_abortAssociation(assoc_);
            ASC_destroyAssociation(&assoc_);
        }
        if (net_) ASC_dropNetwork(&net_);
    }
    bool open() const { return assoc_ != nullptr; }
    bool echo() {
        DIC_US status = 0xffff;
        DcmDataset* detail = nullptr;
        const bool ok = assoc_ && DIMSE_echoUser(assoc_, 1, DIMSE_BLOCKING, 0, &status, &detail).good() && status == 0;
        delete detail;
        return ok;
    }
    bool release() {
        const bool ok = assoc_ && ASC_releaseAssociation(assoc_).good();
        if (assoc_) ASC_destroyAssociation(&assoc_);
        assoc_ = nullptr;
        return ok;
    }

private:
    std::shared_ptr<DcmTLSTransportLayer> layer_;
    T_ASC_Network* net_ = nullptr;
    T_ASC_Association* assoc_ = nullptr;
};

}  // namespace

TEST_CASE("a study arrives de-identified over TLS with mutual authentication and a plain client on the TLS port stores nothing") {
    testsupport::TempDir pki_dir, src;
    const std::string pki = make_pki(pki_dir);
    const int tls_port = testsupport::free_port();
    Gateway gw(tls_listen(pki, tls_port));
    REQUIRE(gw.start());
    REQUIRE(testsupport::wait_for_port(tls_port));
    testdata::StudySpec spec;
    const auto written = testdata::write_study(src.path(), spec);
    std::vector<std::string> files;
    for (const auto& w : written) files.push_back(w.path);

    // A plain storescu on the TLS port: refused in the handshake, nothing stored.
    auto plain = testsupport::run(with_shim({"storescu", "-aet", "MODALITY", "-aec", "DEIDGW", "127.0.0.1",
                                             std::to_string(tls_port), files[0]}), 30s);
    CHECK(plain.exit_code != 0);
    REQUIRE(wait_for_log(gw, "TLS handshake failed", 10s));

    const auto sent = parse_storescu(storescu_tls(pki, pki + "/ca.crt", tls_port, files));
    INFO(sent.run.output);
    REQUIRE(sent.acked.size() == written.size());
    if (!wait_for_files(gw.dir / "outbox", written.size(), 30s)) FAIL(gw.log());
    for (const auto& f : files_under(gw.dir / "outbox"))
        for (const std::string& phi : {std::string("DOE^JANE"), std::string("PAT-4711"), spec.study_uid})
            CHECK_FALSE(contains_bytes(f, phi));
    CHECK(files_under(gw.dir / "outbox").size() == written.size());  // the plain attempt added nothing
    const std::string log = gw.log();
    CHECK(log.find("(TLS) calling AE 'MODALITY' called AE 'DEIDGW': accepted") != std::string::npos);
    CHECK(log.find("and TLS 127.0.0.1:" + std::to_string(tls_port)) != std::string::npos);
}

TEST_CASE("a certificate replaced on disk plus SIGHUP is used by the next association while a running one finishes") {
    testsupport::TempDir old_dir, new_dir, src;
    const std::string old_pki = make_pki(old_dir), new_pki = make_pki(new_dir);  // two unrelated CAs
    testsupport::TempDir tls;
    for (const char* f : {"server.crt", "server.key", "ca.crt"}) fs::copy_file(old_pki + "/" + f, tls / f);
    fs::permissions(tls / "server.key", fs::perms(0600));
    const int tls_port = testsupport::free_port();
    Gateway gw(tls_listen(tls.path(), tls_port));
    REQUIRE(gw.start());
    REQUIRE(testsupport::wait_for_port(tls_port));
    const auto written = testdata::write_study(src.path(), testdata::StudySpec{});
    const std::vector<std::string> one = {written[0].path};

    // Running: an association made with the old certificate.
    TlsAssociation running(tls_port, old_pki, old_pki + "/ca.crt");
    REQUIRE(running.open());
    REQUIRE(running.echo());
    // A client that trusts only the new server certificate's CA fails before the rotation...
    CHECK(storescu_tls(old_pki, new_pki + "/ca.crt", tls_port, one).exit_code != 0);

    // ... the new certificate and key are written over the old files, then SIGHUP.
    fs::copy_file(new_pki + "/server.crt", tls / "server.crt", fs::copy_options::overwrite_existing);
    fs::copy_file(new_pki + "/server.key", tls / "server.key", fs::copy_options::overwrite_existing);
    gw.child.signal(SIGHUP);
    REQUIRE(wait_for_log(gw, "TLS listener: certificate, key and trusted certificates read again", 10s));

    // The next association gets the new certificate; the running one goes on and is released.
    const auto next = parse_storescu(storescu_tls(old_pki, new_pki + "/ca.crt", tls_port, one));
    INFO(next.run.output);
    CHECK(next.acked.size() == 1);
    CHECK(storescu_tls(old_pki, old_pki + "/ca.crt", tls_port, one).exit_code != 0);  // the old one is gone
    CHECK(running.echo());
    CHECK(running.release());
}

TEST_CASE("serve refuses to start with a TLS key readable by others or an expired certificate, naming the key") {
    testsupport::TempDir pki_dir;
    const std::string pki = make_pki(pki_dir);
    {
        testsupport::TempDir tls;
        for (const char* f : {"server.crt", "server.key", "ca.crt"}) fs::copy_file(pki + "/" + f, tls / f);
        fs::permissions(tls / "server.key", fs::perms(0644));
        Gateway gw(tls_listen(tls.path(), testsupport::free_port()));
        const auto r = testsupport::run({kGateway, "serve", "--config", gw.write_config()}, 60s);
        CHECK(r.exit_code != 0);
        CHECK(r.output.find("listen.tls.private_key: " + (tls / "server.key")) != std::string::npos);
        CHECK(r.output.find("-----BEGIN") == std::string::npos);  // never file content
    }
    {
        json cfg = tls_listen(pki, testsupport::free_port());
        cfg["listen"]["tls"]["certificate"] = pki + "/expired.crt";
        cfg["listen"]["tls"]["private_key"] = pki + "/expired.key";
        Gateway gw(cfg);
        const auto r = testsupport::run({kGateway, "serve", "--config", gw.write_config()}, 60s);
        INFO(r.output);
        CHECK(r.exit_code != 0);
        CHECK(r.output.find("listen.tls.certificate: " + pki + "/expired.crt: the certificate has expired") !=
              std::string::npos);
    }
}
