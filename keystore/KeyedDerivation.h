// Pseudonyms, date offsets, replacement UIDs and site-rule hashes, all HMAC-SHA256 (OpenSSL)
// under the broker's secret: deterministic, so brokers sharing the secret answer the same.
//   pseudonym   "ANON-" + 20 upper-case hex digits (the first 80 bits of HMAC("patient\0" issuer "\0" id))
//   date offset min + (first 64 bits of HMAC("offset\0" issuer "\0" id)) mod (max - min + 1); min..max < 0
//   UID         "2.25." + decimal of the first 128 bits of HMAC("uid\0" uid)       (at most 44 characters)
//   hash        32 lower-case hex digits (the first 128 bits of HMAC("hash\0" value))
#pragma once

#include <array>
#include <memory>
#include <string>

namespace keystore {

using SecretBytes = std::array<unsigned char, 32>;

// The first 128 bits of an HMAC: what the broker's in-memory set of recorded mappings keeps.
using MacKey = std::array<unsigned char, 16>;

class KeyedDerivation {
public:
    KeyedDerivation(const SecretBytes& secret, int offset_min_days, int offset_max_days);
    ~KeyedDerivation();
    KeyedDerivation(const KeyedDerivation&) = delete;
    KeyedDerivation& operator=(const KeyedDerivation&) = delete;

    std::string pseudonym(const std::string& issuer, const std::string& patient_id) const;
    int date_offset_days(const std::string& issuer, const std::string& patient_id) const;
    std::string uid(const std::string& original) const;
    std::string hash(const std::string& value) const;
    // A value stored in the database that tells whether a key file belongs to it.
    std::string key_check() const;

    // Split forms for the broker's hot path: the MAC once, then the value derived from it.
    MacKey patient_key(const std::string& issuer, const std::string& patient_id) const;
    static std::string pseudonym_from(const MacKey& patient_key);
    MacKey uid_key(const std::string& original) const;
    static std::string uid_from(const MacKey& uid_key);

private:
    std::array<unsigned char, 32> mac(const char* domain, const std::string* a = nullptr, const std::string* b = nullptr) const;
    // A keyed HMAC-SHA256 context (EVP_MAC) set up once; each MAC works on a copy of it, so the
    // key schedule is not redone per value and concurrent callers never share mutable state.
    struct MacTemplate;
    std::unique_ptr<MacTemplate> template_;
    SecretBytes secret_;
    int offset_min_days_;
    int offset_max_days_;
};

}  // namespace keystore
