// The re-identification map in SQLite (the default MapStore): WAL mode, the file keystore.db under
// the keystore folder (broker side only). Tables: patients (issuer, patient_id -> pseudonym,
// date_offset), uids (original -> new), counts, meta, audit (see AuditLog). Writes happen inside
// explicit transactions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keystore/MapStore.h"

struct sqlite3;

namespace keystore {

class SqliteStatement;

class KeystoreDatabase : public MapStore {
public:
    static constexpr const char* kFileName = "keystore.db";
    enum class Open { create, existing };

    KeystoreDatabase(const std::string& path, Open mode);
    ~KeystoreDatabase() override;
    KeystoreDatabase(const KeystoreDatabase&) = delete;
    KeystoreDatabase& operator=(const KeystoreDatabase&) = delete;

    sqlite3* handle() const { return db_; }
    void exec(const std::string& sql);
    void begin_immediate() override;  // a write transaction (waits up to the busy timeout)
    void begin_deferred() override;   // reads first; the first write takes the write lock
    void begin_snapshot() override;
    // True when the last failure was SQLITE_BUSY (e.g. a deferred transaction could not take the
    // write lock because `import` committed since it started reading): retry with begin_immediate.
    bool last_error_was_busy() const override;
    void commit() override;
    void rollback() noexcept override;
    void make_commits_durable() override;  // synchronous=FULL

    std::optional<std::string> meta(const std::string& key) override;
    void set_meta(const std::string& key, const std::string& value) override;

    // Batches: one prepared statement per row (an embedded database has no round trips to save).
    std::map<PatientKey, PatientMapping> find_patients(const std::vector<PatientKey>& keys) override;
    std::vector<bool> insert_patients(const std::vector<PatientMapping>& rows) override;
    std::map<std::string, std::string> find_uids(const std::vector<std::string>& originals) override;
    std::vector<bool> insert_uids(const std::vector<UidMapping>& rows) override;

    // The hot path (inside a transaction).
    std::optional<PatientMapping> find_patient(const std::string& issuer, const std::string& patient_id);
    bool insert_patient(const PatientMapping& m);  // false when a row with that key exists
    std::optional<std::string> find_uid(const std::string& original);
    bool insert_uid(const UidMapping& m);  // false when the original or the new UID exists
    void add_counts(std::int64_t patients, std::int64_t uids) override;
    MapCounts counts() override;

    // Reverse lookups and whole-map reads (admin).
    std::vector<PatientMapping> patients_with_pseudonym(const std::string& pseudonym) override;
    std::optional<UidMapping> uid_with_replacement(const std::string& replacement) override;
    void for_each_patient(const std::function<void(const PatientMapping&)>& fn) override;
    void for_each_uid(const std::function<void(const UidMapping&)>& fn) override;
    std::int64_t size_bytes() override;

    // One audit chain per keystore file (chain name empty).
    std::optional<AuditRecord> last_audit_record() override;
    void insert_audit_record(const AuditRecord& record) override;
    std::vector<std::string> audit_chains() override { return {""}; }
    void for_each_audit_record(const std::string& chain, const std::function<void(const AuditRecord&)>& fn) override;
    std::int64_t audit_record_count() override;

    std::string description() const override { return "SQLite " + path_; }

    // A statement prepared once per connection and reset for each use (hot paths: the audit log).
    SqliteStatement& prepared(const std::string& sql);

private:
    SqliteStatement& statement(std::unique_ptr<SqliteStatement>& slot, const char* sql);
    std::string path_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<SqliteStatement> find_patient_, insert_patient_, find_uid_, insert_uid_, add_count_;
    std::unique_ptr<SqliteStatement> begin_immediate_, begin_deferred_, commit_;
    std::map<std::string, std::unique_ptr<SqliteStatement>> prepared_;
};

}  // namespace keystore
