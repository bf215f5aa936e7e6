#include "keystore/AuditLog.h"

#include <openssl/evp.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "keystore/MapStore.h"

namespace keystore {

namespace {

const std::string kGenesis(64, '0');

std::string sha256_hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr))
        throw std::runtime_error("SHA-256 failed");
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += digits[digest[i] >> 4];
        out += digits[digest[i] & 0x0f];
    }
    return out;
}

}  // namespace

std::string AuditLog::record_hash(const std::string& prev_hash, std::int64_t seq, const std::string& time,
                                  const std::string& operation, const std::string& operator_name,
                                  const std::string& reason, const std::string& detail) {
    const nlohmann::json canonical = nlohmann::json::array({seq, time, operation, operator_name, reason, detail});
    return sha256_hex(prev_hash + canonical.dump());
}

std::string AuditLog::operator_name() {
    static const std::string name = [] {
        const uid_t uid = geteuid();
        if (const passwd* pw = getpwuid(uid)) return std::string(pw->pw_name);
        return "uid " + std::to_string(uid);
    }();
    return name;
}

std::string AuditLog::now_utc() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

void AuditLog::append(const std::string& operation, const std::string& reason, const nlohmann::json& detail) {
    AuditRecord r;
    r.seq = 1;
    r.prev_hash = kGenesis;
    if (const auto last = db_.last_audit_record()) {
        r.seq = last->seq + 1;
        r.prev_hash = last->hash;
    }
    r.time = now_utc();
    r.operation = operation;
    r.operator_name = operator_name();
    r.reason = reason;
    r.detail = detail.dump();
    r.hash = record_hash(r.prev_hash, r.seq, r.time, r.operation, r.operator_name, r.reason, r.detail);
    db_.insert_audit_record(r);
}

AuditVerification AuditLog::verify() {
    AuditVerification v;
    for (const std::string& chain : db_.audit_chains()) {
        std::int64_t expected_seq = 1;
        std::string prev = kGenesis;
        AuditChainHead head;
        head.chain = chain;
        bool chain_ok = true;
        db_.for_each_audit_record(chain, [&](const AuditRecord& r) {
            if (!chain_ok) return;
            auto fail = [&](std::int64_t bad, std::string problem) {
                chain_ok = false;
                if (!v.ok) return;  // the first bad record of the first broken chain is reported
                v.ok = false;
                v.first_bad_seq = bad;
                v.bad_chain = chain;
                v.problem = std::move(problem);
            };
            const std::int64_t seq = r.seq;
            if (seq != expected_seq) {
                fail(expected_seq, seq > expected_seq ? "record " + std::to_string(expected_seq) +
                                                            " is missing (removed); the next is " + std::to_string(seq)
                                                      : "record " + std::to_string(seq) + " is out of sequence");
                return;
            }
            if (r.prev_hash != prev) {
                fail(seq, "record " + std::to_string(seq) +
                              ": prev_hash does not match the previous record's hash (removed, inserted or reordered)");
                return;
            }
            const std::string recomputed =
                record_hash(prev, seq, r.time, r.operation, r.operator_name, r.reason, r.detail);
            if (recomputed != r.hash) {
                fail(seq, "record " + std::to_string(seq) + ": hash does not match its contents (changed or reordered)");
                return;
            }
            prev = r.hash;
            ++head.records;
            ++expected_seq;
        });
        head.head_hash = prev == kGenesis ? "" : prev;
        v.records += head.records;
        v.chains.push_back(head);
    }
    if (v.ok && v.chains.size() == 1) v.head_hash = v.chains.front().head_hash;
    return v;
}

}  // namespace keystore
