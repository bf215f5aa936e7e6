// The re-identification map: SQLite in WAL mode under the keystore folder (broker side only).
// Tables: patients (issuer, patient_id -> pseudonym, date_offset), uids (original -> new),
// counts, meta, audit (see AuditLog). Writes happen inside explicit transactions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace keystore {

class SqliteStatement;

struct PatientMapping {
    std::string issuer;
    std::string patient_id;
    std::string pseudonym;
    int date_offset_days = 0;
    std::int64_t first_seen = 0;  // Unix seconds
    bool imported = false;
};

struct UidMapping {
    std::string original;
    std::string replacement;
    std::int64_t first_seen = 0;
    bool imported = false;
};

struct MapCounts {
    std::int64_t patients = 0;
    std::int64_t uids = 0;
};

class KeystoreDatabase {
public:
    static constexpr const char* kFileName = "keystore.db";
    enum class Open { create, existing };

    KeystoreDatabase(const std::string& path, Open mode);
    ~KeystoreDatabase();
    KeystoreDatabase(const KeystoreDatabase&) = delete;
    KeystoreDatabase& operator=(const KeystoreDatabase&) = delete;

    sqlite3* handle() const { return db_; }
    void exec(const std::string& sql);
    void begin_immediate();  // a write transaction (waits up to the busy timeout)
    void begin_deferred();   // reads first; the first write takes the write lock
    // True when the last failure was SQLITE_BUSY (e.g. a deferred transaction could not take the
    // write lock because `import` committed since it started reading): retry with begin_immediate.
    bool last_error_was_busy() const;
    void commit();
    void rollback() noexcept;

    std::optional<std::string> meta(const std::string& key);
    void set_meta(const std::string& key, const std::string& value);

    // The hot path (inside a transaction).
    std::optional<PatientMapping> find_patient(const std::string& issuer, const std::string& patient_id);
    bool insert_patient(const PatientMapping& m);  // false when a row with that key exists
    std::optional<std::string> find_uid(const std::string& original);
    bool insert_uid(const UidMapping& m);  // false when the original or the new UID exists
    void add_counts(std::int64_t patients, std::int64_t uids);
    MapCounts counts();

    // Reverse lookups and whole-map reads (admin).
    std::vector<PatientMapping> patients_with_pseudonym(const std::string& pseudonym);
    std::optional<UidMapping> uid_with_replacement(const std::string& replacement);
    bool replacement_uid_exists(const std::string& replacement);
    void for_each_patient(const std::function<void(const PatientMapping&)>& fn);
    void for_each_uid(const std::function<void(const UidMapping&)>& fn);

    // A statement prepared once per connection and reset for each use (hot paths: the audit log).
    SqliteStatement& prepared(const std::string& sql);

private:
    SqliteStatement& statement(std::unique_ptr<SqliteStatement>& slot, const char* sql);
    sqlite3* db_ = nullptr;
    std::unique_ptr<SqliteStatement> find_patient_, insert_patient_, find_uid_, insert_uid_, add_count_;
    std::map<std::string, std::unique_ptr<SqliteStatement>> prepared_;
};

}  // namespace keystore
