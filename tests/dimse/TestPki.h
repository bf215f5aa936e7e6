// Certificates for the TLS tests, made with the `openssl` command line in a temp folder: a private
// CA, certificates it signs (currently valid, expired or not yet valid), private keys at mode 0600.
#pragma once

#include <string>

namespace testdata {

struct KeyPair {
    std::string certificate;  // PEM file
    std::string private_key;  // PEM file, mode 0600
    std::string subject;      // RFC 2253 one-line form
};

enum class Validity { current, expired, not_yet_valid };

// A self-signed CA "<name>" under dir/<name>/.
KeyPair make_ca(const std::string& dir, const std::string& name);
// A certificate for common name `cn` signed by `ca` (made by make_ca in the same dir), usable for
// TLS server and client authentication, with subjectAltName DNS:<cn> and IP:127.0.0.1.
KeyPair make_certificate(const std::string& dir, const KeyPair& ca, const std::string& cn,
                         Validity validity = Validity::current);

}  // namespace testdata
