#include "keystore/AuditLog.h"

#include <openssl/evp.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "keystore/KeystoreDatabase.h"
#include "keystore/SqliteStatement.h"

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
    std::int64_t seq = 1;
    std::string prev = kGenesis;
    {
        SqliteStatement& last = db_.prepared("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
        if (last.step()) {
            seq = last.integer(0) + 1;
            prev = last.text(1);
        }
        last.reset();
    }
    const std::string time = now_utc();
    const std::string who = operator_name();
    const std::string detail_text = detail.dump();
    const std::string hash = record_hash(prev, seq, time, operation, who, reason, detail_text);
    SqliteStatement& insert = db_.prepared(
        "INSERT INTO audit(seq, time, operation, operator, reason, detail, prev_hash, hash) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, seq).bind(2, time).bind(3, operation).bind(4, who).bind(5, reason).bind(6, detail_text);
    insert.bind(7, prev).bind(8, hash);
    insert.step();
    insert.reset();
}

AuditVerification AuditLog::verify() {
    AuditVerification v;
    SqliteStatement s(db_.handle(),
                      "SELECT seq, time, operation, operator, reason, detail, prev_hash, hash FROM audit ORDER BY seq");
    std::int64_t expected_seq = 1;
    std::string prev = kGenesis;
    while (s.step()) {
        const std::int64_t seq = s.integer(0);
        auto fail = [&](std::int64_t bad, std::string problem) {
            v.ok = false;
            v.first_bad_seq = bad;
            v.problem = std::move(problem);
        };
        if (seq != expected_seq) {
            fail(expected_seq, seq > expected_seq
                                   ? "record " + std::to_string(expected_seq) + " is missing (removed); the next is " +
                                         std::to_string(seq)
                                   : "record " + std::to_string(seq) + " is out of sequence");
            return v;
        }
        if (s.text(6) != prev) {
            fail(seq, "record " + std::to_string(seq) +
                          ": prev_hash does not match the previous record's hash (removed, inserted or reordered)");
            return v;
        }
        const std::string recomputed = record_hash(prev, seq, s.text(1), s.text(2), s.text(3), s.text(4), s.text(5));
        if (recomputed != s.text(7)) {
            fail(seq, "record " + std::to_string(seq) + ": hash does not match its contents (changed or reordered)");
            return v;
        }
        prev = s.text(7);
        ++v.records;
        ++expected_seq;
    }
    v.head_hash = prev == kGenesis ? "" : prev;
    return v;
}

}  // namespace keystore
