#include "keystore/KeyedDerivation.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

struct MacDeleter {
    void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

}  // namespace

struct KeyedDerivation::MacTemplate {
    std::unique_ptr<EVP_MAC, MacDeleter> mac;
    std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx;
    std::uint64_t id = 0;  // unique per KeyedDerivation ever made in this process
};

namespace {

std::atomic<std::uint64_t> next_template_id{1};

// Each thread keeps one working copy of the template it used last: re-initialising it with no key
// (EVP_MAC_init(ctx, NULL, 0, NULL)) restarts HMAC from the saved keyed state, with no allocation.
struct ThreadMac {
    std::uint64_t id = 0;
    std::unique_ptr<EVP_MAC_CTX, MacDeleter> ctx;
};
thread_local ThreadMac thread_mac;

}  // namespace

KeyedDerivation::KeyedDerivation(const SecretBytes& secret, int offset_min_days, int offset_max_days)
    : template_(std::make_unique<MacTemplate>()),
      secret_(secret),
      offset_min_days_(offset_min_days),
      offset_max_days_(offset_max_days) {
    if (offset_min_days_ > offset_max_days_ || offset_max_days_ >= 0)
        throw std::invalid_argument("date offset range must be negative and min <= max");
    template_->mac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!template_->mac) throw std::runtime_error("HMAC is not available from OpenSSL");
    template_->ctx.reset(EVP_MAC_CTX_new(template_->mac.get()));
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (!template_->ctx || !EVP_MAC_init(template_->ctx.get(), secret_.data(), secret_.size(), params))
        throw std::runtime_error("HMAC-SHA256 set-up failed");
    template_->id = next_template_id++;
}

KeyedDerivation::~KeyedDerivation() {
    if (thread_mac.id == template_->id) {  // do not keep this key's HMAC state past its owner (this thread)
        thread_mac.ctx.reset();
        thread_mac.id = 0;
    }
}

// HMAC(domain "\0" a ["\0" b]) on this thread's working copy of the keyed template.
std::array<unsigned char, 32> KeyedDerivation::mac(const char* domain, const std::string* a,
                                                   const std::string* b) const {
    ThreadMac& t = thread_mac;
    if (t.id != template_->id || !t.ctx) {
        t.ctx.reset(EVP_MAC_CTX_dup(template_->ctx.get()));
        t.id = t.ctx ? template_->id : 0;
    } else if (!EVP_MAC_init(t.ctx.get(), nullptr, 0, nullptr)) {
        t.ctx.reset();
        t.id = 0;
    }
    EVP_MAC_CTX* ctx = t.ctx.get();
    static const unsigned char zero = 0;
    auto update = [&](const void* data, std::size_t n) {
        return EVP_MAC_update(ctx, static_cast<const unsigned char*>(data), n) == 1;
    };
    std::array<unsigned char, 32> out{};
    std::size_t length = 0;
    if (!ctx || !update(domain, std::strlen(domain)) ||
        (a && (!update(&zero, 1) || !update(a->data(), a->size()))) ||
        (b && (!update(&zero, 1) || !update(b->data(), b->size()))) ||
        !EVP_MAC_final(ctx, out.data(), &length, out.size()) || length != out.size()) {
        t.ctx.reset();  // start from the template next time
        t.id = 0;
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return out;
}

MacKey KeyedDerivation::patient_key(const std::string& issuer, const std::string& patient_id) const {
    const auto m = mac("patient", &issuer, &patient_id);
    MacKey k;
    std::copy(m.begin(), m.begin() + 16, k.begin());
    return k;
}

std::string KeyedDerivation::pseudonym_from(const MacKey& patient_key) {
    return "ANON-" + hex(patient_key.data(), 10, true);
}

MacKey KeyedDerivation::uid_key(const std::string& original) const {
    const auto m = mac("uid", &original);
    MacKey k;
    std::copy(m.begin(), m.begin() + 16, k.begin());
    return k;
}

// "2.25." + the decimal form of the key read as a 128-bit big-endian unsigned integer.
std::string KeyedDerivation::uid_from(const MacKey& uid_key) {
    unsigned __int128 v = 0;
    for (unsigned char byte : uid_key) v = (v << 8) | byte;
    // Base 10^19 limbs (at most 3), each formatted as 64-bit decimal.
    constexpr std::uint64_t kLimb = 10000000000000000000ull;
    std::uint64_t limbs[3];
    int n = 0;
    do {
        limbs[n++] = static_cast<std::uint64_t>(v % kLimb);
        v /= kLimb;
    } while (v != 0);
    char buf[64] = "2.25.";
    char* end = std::to_chars(buf + 5, buf + sizeof buf, limbs[n - 1]).ptr;
    for (int i = n - 2; i >= 0; --i) {  // lower limbs: exactly 19 digits, zero-padded
        char limb[20];
        char* limb_end = std::to_chars(limb, limb + sizeof limb, limbs[i]).ptr;
        const std::size_t digits = static_cast<std::size_t>(limb_end - limb);
        std::memset(end, '0', 19 - digits);
        std::memcpy(end + 19 - digits, limb, digits);
        end += 19;
    }
    return std::string(buf, end);
}

std::string KeyedDerivation::pseudonym(const std::string& issuer, const std::string& patient_id) const {
    return pseudonym_from(patient_key(issuer, patient_id));
}

int KeyedDerivation::date_offset_days(const std::string& issuer, const std::string& patient_id) const {
    const auto m = mac("offset", &issuer, &patient_id);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | m[static_cast<std::size_t>(i)];
    const std::uint64_t span = static_cast<std::uint64_t>(offset_max_days_ - offset_min_days_) + 1;
    return offset_min_days_ + static_cast<int>(v % span);
}

std::string KeyedDerivation::uid(const std::string& original) const { return uid_from(uid_key(original)); }

std::string KeyedDerivation::hash(const std::string& value) const {
    const auto m = mac("hash", &value);
    return hex(m.data(), 16, false);
}

std::string KeyedDerivation::key_check() const {
    const auto m = mac("key-check");
    return hex(m.data(), m.size(), false);
}

}  // namespace keystore
