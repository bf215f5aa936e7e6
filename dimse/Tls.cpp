#include "dimse/Tls.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <dcmtk/dcmtls/tlstrans.h>

namespace dimse {

namespace {

// DCMTK's TLS layer with TCP_NODELAY on every connection (DCMTK 3.6.7 sets none) and, on the client
// side, the server name sent as SNI. Otherwise what DcmTLSTransportLayer::createConnection does.
class NoDelayTlsLayer : public DcmTLSTransportLayer {
public:
    NoDelayTlsLayer(T_ASC_NetworkRole role, std::string server_name)
        : DcmTLSTransportLayer(role, nullptr, OFFalse), server_name_(std::move(server_name)) {}

    DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool secure) override {
        int one = 1;
        ::setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!secure) return DcmTransportLayer::createConnection(socket, secure);
        SSL* ssl = SSL_new(getNativeHandle());
        if (!ssl) return nullptr;
        SSL_set_fd(ssl, socket);
        if (!server_name_.empty()) SSL_set_tlsext_host_name(ssl, server_name_.c_str());
        return new DcmTLSConnection(socket, ssl);
    }

private:
    std::string server_name_;
};

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string openssl_reason() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "not a PEM file of the expected kind";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

X509Ptr read_certificate(const std::string& path, std::string& error) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) {
        error = path + ": cannot read: " + std::strerror(errno);
        return nullptr;
    }
    X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    if (!cert) error = path + ": not a PEM certificate (" + openssl_reason() + ")";
    return cert;
}

// Expired or not yet valid certificates are refused at start, not at the first association.
bool check_validity(X509* cert, const std::string& path, std::string& error) {
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        error = path + ": the certificate is not valid yet";
        return false;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        error = path + ": the certificate has expired";
        return false;
    }
    return true;
}

bool check_private_key_mode(const std::string& path, std::string& error) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        error = path + ": cannot read: " + std::strerror(errno);
        return false;
    }
    if (st.st_mode & S_IRWXO) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        error = path + ": the private key is accessible to others (mode " + mode +
                "); allow the owner (and at most its group) only, e.g. chmod 600";
        return false;
    }
    return true;
}

// Checked before DCMTK loads the key, which would refuse a mismatch without saying so.
bool key_matches(X509* cert, const std::string& path, std::string& error) {
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) {
        error = path + ": cannot read: " + std::strerror(errno);
        return false;
    }
    EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!key) {
        error = path + ": not a PEM private key without a passphrase (" + openssl_reason() + ")";
        return false;
    }
    const bool pair = X509_check_private_key(cert, key) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!pair) error = path + ": the private key does not belong to the certificate";
    return pair;
}

// A PEM file, or each *.pem, *.crt and *.cer file in a folder (no c_rehash links needed).
bool add_trusted(DcmTLSTransportLayer& layer, const std::string& path, std::string& error) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<std::string> files;
    if (fs::is_directory(path, ec)) {
        for (const auto& entry : fs::directory_iterator(path, ec)) {
            const std::string ext = entry.path().extension().string();
            if (entry.is_regular_file(ec) && (ext == ".pem" || ext == ".crt" || ext == ".cer"))
                files.push_back(entry.path().string());
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) {
            error = path + ": no *.pem, *.crt or *.cer file in the folder";
            return false;
        }
    } else {
        files.push_back(path);
    }
    for (const auto& file : files) {
        X509Ptr cert = read_certificate(file, error);
        if (!cert) return false;
        if (layer.addTrustedCertificateFile(file.c_str(), DCF_Filetype_PEM).bad()) {
            error = file + ": cannot load as a trusted certificate (" + openssl_reason() + ")";
            return false;
        }
    }
    return true;
}

DcmTLSSecurityProfile dcmtk_profile(TlsProfile profile) {
    switch (profile) {
        case TlsProfile::bcp195_nd: return TSP_Profile_BCP195_ND;
        case TlsProfile::bcp195_extended: return TSP_Profile_BCP195_Extended;
        case TlsProfile::bcp195: break;
    }
    return TSP_Profile_BCP195;
}

}  // namespace

bool parse_tls_version(const std::string& text, TlsVersion& version) {
    if (text == "1.2") version = TlsVersion::v1_2;
    else if (text == "1.3") version = TlsVersion::v1_3;
    else return false;
    return true;
}

bool parse_tls_profile(const std::string& text, TlsProfile& profile) {
    if (text == "BCP195") profile = TlsProfile::bcp195;
    else if (text == "BCP195-ND") profile = TlsProfile::bcp195_nd;
    else if (text == "BCP195-extended") profile = TlsProfile::bcp195_extended;
    else return false;
    return true;
}

const char* tls_profile_name(TlsProfile profile) {
    switch (profile) {
        case TlsProfile::bcp195_nd: return "BCP195-ND";
        case TlsProfile::bcp195_extended: return "BCP195-extended";
        case TlsProfile::bcp195: break;
    }
    return "BCP195";
}

std::shared_ptr<DcmTLSTransportLayer> make_tls_layer(TlsRole role, const TlsSettings& settings, std::string& error) {
    static std::once_flag once;
    std::call_once(once, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
    ERR_clear_error();

    const bool server = role == TlsRole::server;
    if (server && (settings.certificate.empty() || settings.private_key.empty())) {
        error = "a TLS listener needs a certificate and a private key";
        return nullptr;
    }
    if (settings.certificate.empty() != settings.private_key.empty()) {
        error = "a certificate and a private key go together: give both or neither";
        return nullptr;
    }
    if (settings.verify_peer && settings.trusted_certificates.empty()) {
        error = server ? "require_client_certificate needs trusted_certificates"
                       : "verify_peer needs trusted_certificates (the CA that signed the peer's certificate)";
        return nullptr;
    }

    auto layer = std::make_shared<NoDelayTlsLayer>(server ? NET_ACCEPTOR : NET_REQUESTOR,
                                                   server ? std::string() : settings.server_name);
    if (!*layer) {
        error = "cannot create a TLS context (" + openssl_reason() + ")";
        return nullptr;
    }
    if (!settings.certificate.empty()) {
        X509Ptr cert = read_certificate(settings.certificate, error);
        if (!cert || !check_validity(cert.get(), settings.certificate, error)) return nullptr;
        if (!check_private_key_mode(settings.private_key, error)) return nullptr;
        if (layer->setCertificateFile(settings.certificate.c_str(), DCF_Filetype_PEM).bad()) {
            error = settings.certificate + ": cannot load the certificate (" + openssl_reason() + ")";
            return nullptr;
        }
        if (!key_matches(cert.get(), settings.private_key, error)) return nullptr;
        if (layer->setPrivateKeyFile(settings.private_key.c_str(), DCF_Filetype_PEM).bad()) {
            error = settings.private_key + ": cannot load the private key (" + openssl_reason() + ")";
            return nullptr;
        }
    }
    if (!settings.trusted_certificates.empty() && !add_trusted(*layer, settings.trusted_certificates, error))
        return nullptr;

    if (layer->setTLSProfile(dcmtk_profile(settings.profile)).bad() || layer->activateCipherSuites().bad()) {
        error = std::string("cannot activate the TLS profile ") + tls_profile_name(settings.profile) + " (" +
                openssl_reason() + ")";
        return nullptr;
    }
    SSL_CTX* ctx = layer->getNativeHandle();
    const int min_version = settings.min_version == TlsVersion::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
        error = "cannot set the minimum TLS version (" + openssl_reason() + ")";
        return nullptr;
    }
    if (server) {
        // With require_client_certificate false a client certificate, when sent, is still checked.
        layer->setCertificateVerification(settings.verify_peer ? DCV_requireCertificate
                                          : settings.trusted_certificates.empty() ? DCV_ignoreCertificate
                                                                                  : DCV_checkCertificate);
    } else {
        layer->setCertificateVerification(settings.verify_peer ? DCV_requireCertificate : DCV_ignoreCertificate);
        if (settings.verify_peer && !settings.server_name.empty()) {
            X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            // An IP address literal is matched against the certificate's IP addresses, a name
            // against its DNS names.
            const bool ip = X509_VERIFY_PARAM_set1_ip_asc(param, settings.server_name.c_str()) == 1;
            if (!ip && X509_VERIFY_PARAM_set1_host(param, settings.server_name.c_str(), 0) != 1) {
                error = "server_name: cannot be used for verification (" + openssl_reason() + ")";
                return nullptr;
            }
        }
    }
    return layer;
}

std::string peer_certificate_subject(T_ASC_Association* assoc) {
    const unsigned long length = ASC_getPeerCertificateLength(assoc);
    if (length == 0) return {};
    std::vector<unsigned char> der(length);
    if (ASC_getPeerCertificate(assoc, der.data(), length) != length) return {};
    const unsigned char* p = der.data();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(length)));
    if (!cert) return {};
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio) return {};
    X509_NAME_print_ex(bio, X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string subject(data, static_cast<std::size_t>(std::max(0L, n)));
    BIO_free(bio);
    return subject;
}

}  // namespace dimse
