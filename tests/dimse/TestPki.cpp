#include "tests/dimse/TestPki.h"

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>

#include "tests/support/Process.h"

namespace testdata {

namespace {

void openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = testsupport::run(argv, std::chrono::seconds(60));
    if (r.exit_code != 0) throw std::runtime_error("openssl " + args[0] + " failed: " + r.output);
}

std::string subject_of(const std::string& certificate) {
    const auto r = testsupport::run({"openssl", "x509", "-in", certificate, "-noout", "-subject", "-nameopt", "RFC2253"},
                                    std::chrono::seconds(30));
    std::string s = r.output;
    if (s.rfind("subject=", 0) == 0) s = s.substr(8);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

}  // namespace

KeyPair make_ca(const std::string& dir, const std::string& name) {
    const std::string d = dir + "/" + name;
    std::filesystem::create_directories(d + "/issued");
    testsupport::write_file(d + "/index.txt", "");
    testsupport::write_file(d + "/serial", "1000\n");
    // `openssl ca` (not `x509 -req`) so that tests can give start and end dates in the past or future.
    testsupport::write_file(d + "/ca.cnf",
                            "[ca]\ndefault_ca = this\n[this]\ndir = " + d +
                                "\ndatabase = $dir/index.txt\nserial = $dir/serial\nnew_certs_dir = $dir/issued\n"
                                "default_md = sha256\npolicy = any\nunique_subject = no\ncopy_extensions = none\n"
                                "[any]\ncommonName = supplied\norganizationName = optional\n"
                                "[leaf]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature, keyEncipherment\n"
                                "extendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = $ENV::DEID_SAN\n");
    KeyPair ca{d + "/ca.crt", d + "/ca.key", ""};
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "30", "-nodes", "-keyout", ca.private_key,
             "-out", ca.certificate, "-subj", "/O=Test/CN=" + name});
    ::chmod(ca.private_key.c_str(), 0600);
    ca.subject = subject_of(ca.certificate);
    return ca;
}

KeyPair make_certificate(const std::string& dir, const KeyPair& ca, const std::string& cn, Validity validity) {
    const std::string ca_dir = std::filesystem::path(ca.certificate).parent_path().string();
    static int serial = 0;
    const std::string base = dir + "/" + cn + "-" + std::to_string(++serial);
    KeyPair kp{base + ".crt", base + ".key", ""};
    openssl({"req", "-newkey", "rsa:2048", "-sha256", "-nodes", "-keyout", kp.private_key, "-out", base + ".csr",
             "-subj", "/O=Test/CN=" + cn});
    ::chmod(kp.private_key.c_str(), 0600);
    std::vector<std::string> args = {"ca", "-batch", "-notext", "-config", ca_dir + "/ca.cnf", "-extensions", "leaf",
                                     "-cert", ca.certificate, "-keyfile", ca.private_key, "-in", base + ".csr",
                                     "-out", kp.certificate};
    if (validity == Validity::current) {
        args.insert(args.end(), {"-days", "30"});
    } else if (validity == Validity::expired) {
        args.insert(args.end(), {"-startdate", "20200101000000Z", "-enddate", "20210101000000Z"});
    } else {
        args.insert(args.end(), {"-startdate", "20900101000000Z", "-enddate", "20910101000000Z"});
    }
    ::setenv("DEID_SAN", ("DNS:" + cn + ",IP:127.0.0.1").c_str(), 1);
    openssl(args);
    kp.subject = subject_of(kp.certificate);
    return kp;
}

}  // namespace testdata
