// The hash-chained audit log inside the keystore database (table `audit`).
// Each record: seq, time (UTC), operation, operator (Unix user), reason, detail (JSON text, never
// an original identifier), prev_hash and hash = SHA-256(prev_hash || canonical record), where the
// canonical record is the compact JSON array [seq, time, operation, operator, reason, detail].
// The first record's prev_hash is 64 zeros.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace keystore {

class KeystoreDatabase;

struct AuditVerification {
    bool ok = true;
    std::int64_t records = 0;
    std::int64_t first_bad_seq = 0;  // 0 when ok
    std::string problem;             // what is wrong with the first bad record
    std::string head_hash;           // hash of the last record (note it down to detect truncation)
};

class AuditLog {
public:
    explicit AuditLog(KeystoreDatabase& db) : db_(db) {}
    // Appends one record; the caller holds a write transaction (BEGIN IMMEDIATE).
    void append(const std::string& operation, const std::string& reason, const nlohmann::json& detail);
    AuditVerification verify();

    static std::string record_hash(const std::string& prev_hash, std::int64_t seq, const std::string& time,
                                   const std::string& operation, const std::string& operator_name,
                                   const std::string& reason, const std::string& detail);
    static std::string operator_name();  // the effective Unix user
    static std::string now_utc();        // 2024-05-01T12:00:00.123Z

private:
    KeystoreDatabase& db_;
};

}  // namespace keystore
