// DICOM TLS (PS3.15 Annex B, the BCP 195 secure transport connection profiles) for both sides of the
// gateway, with DCMTK's dcmtls and OpenSSL: the settings one `tls` object of the configuration holds,
// the checks made on its files at start and on SIGHUP, and the transport layer built from them. The
// layer sets TCP_NODELAY on every connection it creates, as NoDelayTransportLayer does for plain TCP.
#pragma once

#include <memory>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmtls/tlslayer.h>

namespace dimse {

enum class TlsVersion { v1_2, v1_3 };
// PS3.15 B.9 (BCP 195), B.10 (non-downgrading BCP 195), B.11 (extended BCP 195).
enum class TlsProfile { bcp195, bcp195_nd, bcp195_extended };

struct TlsSettings {
    std::string certificate;           // PEM file; on the client side may be empty (no client certificate)
    std::string private_key;           // PEM file
    std::string trusted_certificates;  // a PEM file or a folder of PEM files (*.pem, *.crt, *.cer)
    bool verify_peer = true;           // server: require_client_certificate; client: verify_peer
    TlsVersion min_version = TlsVersion::v1_2;
    TlsProfile profile = TlsProfile::bcp195;
    std::string server_name;           // client only: SNI and the name the server certificate must carry
};

enum class TlsRole { server, client };

// The configuration's spellings: "1.2", "1.3"; "BCP195", "BCP195-ND", "BCP195-extended".
bool parse_tls_version(const std::string& text, TlsVersion& version);
bool parse_tls_profile(const std::string& text, TlsProfile& profile);
const char* tls_profile_name(TlsProfile profile);

// Reads and checks the files (readable; the private key not readable, writable or runnable by others;
// the certificate inside its validity period; key and certificate a pair; the trusted certificates
// load) and builds a DCMTK TLS transport layer. nullptr and `error` (names the file and the reason,
// never file content) on failure. Built anew on SIGHUP; running connections keep the old one.
std::shared_ptr<DcmTLSTransportLayer> make_tls_layer(TlsRole role, const TlsSettings& settings, std::string& error);

// The peer certificate's subject (OpenSSL's one-line RFC 2253 form) on a TLS association; empty if
// the association is not TLS or the peer sent no certificate.
std::string peer_certificate_subject(T_ASC_Association* assoc);

}  // namespace dimse
