#include "keystore/KeyedDerivation.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <memory>
#include <stdexcept>

namespace keystore {

namespace {

std::string hex(const unsigned char* data, std::size_t n, bool upper) {
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0x0f];
    }
    return out;
}

std::string keyed(const char* domain, const std::string& a) { return std::string(domain) + '\0' + a; }
std::string keyed(const char* domain, const std::string& a, const std::string& b) {
    return std::string(domain) + '\0' + a + '\0' + b;
}

}  // namespace

KeyedDerivation::KeyedDerivation(const SecretBytes& secret, int offset_min_days, int offset_max_days)
    : secret_(secret), offset_min_days_(offset_min_days), offset_max_days_(offset_max_days) {
    if (offset_min_days_ > offset_max_days_ || offset_max_days_ >= 0)
        throw std::invalid_argument("date offset range must be negative and min <= max");
}

std::array<unsigned char, 32> KeyedDerivation::mac(const std::string& message) const {
    std::array<unsigned char, 32> out{};
    unsigned int length = 0;
    if (!HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length) ||
        length != out.size())
        throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

std::string KeyedDerivation::pseudonym(const std::string& issuer, const std::string& patient_id) const {
    const auto m = mac(keyed("patient", issuer, patient_id));
    return "ANON-" + hex(m.data(), 10, true);
}

int KeyedDerivation::date_offset_days(const std::string& issuer, const std::string& patient_id) const {
    const auto m = mac(keyed("offset", issuer, patient_id));
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | m[static_cast<std::size_t>(i)];
    const std::uint64_t span = static_cast<std::uint64_t>(offset_max_days_ - offset_min_days_) + 1;
    return offset_min_days_ + static_cast<int>(v % span);
}

std::string KeyedDerivation::uid(const std::string& original) const {
    const auto m = mac(keyed("uid", original));
    std::unique_ptr<BIGNUM, decltype(&BN_free)> n(BN_bin2bn(m.data(), 16, nullptr), &BN_free);
    if (!n) throw std::runtime_error("BN_bin2bn failed");
    char* dec = BN_bn2dec(n.get());
    if (!dec) throw std::runtime_error("BN_bn2dec failed");
    std::string out = std::string("2.25.") + dec;
    OPENSSL_free(dec);
    return out;
}

std::string KeyedDerivation::hash(const std::string& value) const {
    const auto m = mac(keyed("hash", value));
    return hex(m.data(), 16, false);
}

std::string KeyedDerivation::key_check() const {
    const auto m = mac("key-check");
    return hex(m.data(), m.size(), false);
}

}  // namespace keystore
