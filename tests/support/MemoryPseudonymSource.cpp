#include "tests/support/MemoryPseudonymSource.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace testsupport {

MemoryPseudonymSource::MemoryPseudonymSource(std::string key) : key_(std::move(key)) {}

std::string MemoryPseudonymSource::hmac(const std::string& domain, const std::string& value) const {
    const std::string message = domain + '\0' + value;
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

static std::string hex(const std::string& bytes, std::size_t n) {
    std::string s;
    char b[3];
    for (std::size_t i = 0; i < n && i < bytes.size(); ++i) {
        std::snprintf(b, sizeof b, "%02X", static_cast<unsigned char>(bytes[i]));
        s += b;
    }
    return s;
}

std::string MemoryPseudonymSource::pseudonym(const std::string& issuer, const std::string& patient_id) const {
    return "PSN" + hex(hmac("pseudonym", issuer + '\0' + patient_id), 6);
}

int MemoryPseudonymSource::date_offset(const std::string& issuer, const std::string& patient_id) const {
    const std::string h = hmac("date-offset", issuer + '\0' + patient_id);
    unsigned v = (static_cast<unsigned char>(h[0]) << 8) | static_cast<unsigned char>(h[1]);
    return -1 - static_cast<int>(v % 365);  // -1 .. -365, never 0
}

std::string MemoryPseudonymSource::uid(const std::string& original) const {
    // 2.25.<decimal of the first 15 bytes> (< 2^128, fits 64 characters).
    const std::string h = hmac("uid", original);
    // Decimal of a 120-bit number by repeated division.
    std::vector<unsigned> digits(h.begin(), h.begin() + 15);
    for (unsigned& d : digits) d &= 0xFF;
    std::string dec;
    while (std::any_of(digits.begin(), digits.end(), [](unsigned d) { return d != 0; })) {
        unsigned rem = 0;
        for (unsigned& d : digits) {
            unsigned cur = rem * 256 + d;
            d = cur / 10;
            rem = cur % 10;
        }
        dec.insert(dec.begin(), static_cast<char>('0' + rem));
    }
    return "2.25." + (dec.empty() ? std::string("0") : dec);
}

std::string MemoryPseudonymSource::hash(const std::string& value) const { return hex(hmac("hash", value), 8); }

deid::PseudonymReply MemoryPseudonymSource::resolve(const deid::PseudonymRequest& request) {
    ++calls;
    last_request = request;
    if (unavailable) throw deid::PseudonymUnavailable("memory source switched off");
    deid::PseudonymReply r;
    r.pseudonym = pseudonym(request.issuer, request.patient_id);
    r.date_offset_days = date_offset(request.issuer, request.patient_id);
    for (const std::string& u : request.uids) r.uids.push_back(uid(u));
    for (const std::string& h : request.hashes) r.hashes.push_back(hash(h));
    return r;
}

}  // namespace testsupport
