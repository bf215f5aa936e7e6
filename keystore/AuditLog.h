// The hash-chained audit log inside the keystore database (table `audit`).
// Each record: seq, time (UTC), operation, operator (Unix user), reason, detail (JSON text, never
// an original identifier), prev_hash and hash = SHA-256(prev_hash || canonical record), where the
// canonical record is the compact JSON array [seq, time, operation, operator, reason, detail].
// The first record's prev_hash is 64 zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace keystore {

class MapStore;

// One chain's state after verification.
struct AuditChainHead {
    std::string chain;  // empty: the SQLite keystore's only chain
    std::int64_t records = 0;
    std::string head_hash;
};

// All chains of the store, verified together: ok only when every chain is intact.
struct AuditVerification {
    bool ok = true;
    std::int64_t records = 0;
    std::int64_t first_bad_seq = 0;  // 0 when ok
    std::string problem;             // what is wrong with the first bad record
    std::string head_hash;           // hash of the last record (note it down to detect truncation)
    std::string bad_chain;           // the chain of first_bad_seq
    std::vector<AuditChainHead> chains;  // in name order (one for SQLite)
};

class AuditLog {
public:
    explicit AuditLog(MapStore& db) : db_(db) {}
    // Appends one record to the store's chain; the caller holds a write transaction.
    void append(const std::string& operation, const std::string& reason, const nlohmann::json& detail);
    AuditVerification verify();

    static std::string record_hash(const std::string& prev_hash, std::int64_t seq, const std::string& time,
                                   const std::string& operation, const std::string& operator_name,
                                   const std::string& reason, const std::string& detail);
    static std::string operator_name();  // the effective Unix user
    static std::string now_utc();        // 2024-05-01T12:00:00.123Z

private:
    MapStore& db_;
};

}  // namespace keystore
