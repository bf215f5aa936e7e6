// Where the re-identification map lives (broker side only): the interface MappingIssuer, AuditLog
// and the admin commands use, with two implementations:
//   KeystoreDatabase   the embedded SQLite file keystore.db under keystore.directory (the default);
//   PostgresMapStore   one PostgreSQL database shared by several brokers (keystore.database).
// Writes happen inside explicit transactions (begin_* ... commit). The batch operations take and
// return whole batches so that a networked store answers a batch in a few round trips.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace config {
struct Config;
}

namespace keystore {

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

// One record of the hash-chained audit log (see AuditLog). `chain` is empty in SQLite (one chain
// per keystore file); in PostgreSQL each broker host writes its own chain (see docs/keystore.md).
struct AuditRecord {
    std::string chain;
    std::int64_t seq = 0;
    std::string time, operation, operator_name, reason, detail, prev_hash, hash;
};

using PatientKey = std::pair<std::string, std::string>;  // issuer, patient_id

class MapStore {
public:
    virtual ~MapStore() = default;

    virtual void begin_immediate() = 0;  // a write transaction
    virtual void begin_deferred() = 0;   // reads first; the first write takes the write lock
    virtual void begin_snapshot() = 0;   // a read-only transaction that sees one consistent snapshot
    // True when the last failure may succeed if the transaction is redone (SQLite: busy; PostgreSQL:
    // a serialisation failure or deadlock with another broker).
    virtual bool last_error_was_busy() const = 0;
    virtual void commit() = 0;
    virtual void rollback() noexcept = 0;
    // Commits of this connection survive a power cut (import: imported values cannot be re-derived).
    virtual void make_commits_durable() = 0;

    virtual std::optional<std::string> meta(const std::string& key) = 0;
    virtual void set_meta(const std::string& key, const std::string& value) = 0;

    // Batches (inside a transaction). find_*: the recorded mappings among the keys asked for.
    // insert_*: records what is not there yet and returns, for each row, whether it was inserted
    // (false: a row with that key, or for a UID with that new UID, exists; nothing is overwritten).
    virtual std::map<PatientKey, PatientMapping> find_patients(const std::vector<PatientKey>& keys) = 0;
    virtual std::vector<bool> insert_patients(const std::vector<PatientMapping>& rows) = 0;
    virtual std::map<std::string, std::string> find_uids(const std::vector<std::string>& originals) = 0;
    virtual std::vector<bool> insert_uids(const std::vector<UidMapping>& rows) = 0;
    virtual void add_counts(std::int64_t patients, std::int64_t uids) = 0;
    virtual MapCounts counts() = 0;

    // One row (admin).
    std::optional<PatientMapping> find_patient(const std::string& issuer, const std::string& patient_id);
    bool insert_patient(const PatientMapping& m);
    std::optional<std::string> find_uid(const std::string& original);
    bool insert_uid(const UidMapping& m);

    // Reverse lookups and whole-map reads (admin).
    virtual std::vector<PatientMapping> patients_with_pseudonym(const std::string& pseudonym) = 0;
    virtual std::optional<UidMapping> uid_with_replacement(const std::string& replacement) = 0;
    bool replacement_uid_exists(const std::string& replacement) { return uid_with_replacement(replacement).has_value(); }
    virtual void for_each_patient(const std::function<void(const PatientMapping&)>& fn) = 0;
    virtual void for_each_uid(const std::function<void(const UidMapping&)>& fn) = 0;
    virtual std::int64_t size_bytes() = 0;

    // The audit log (inside a write transaction for the appends). last_audit_record() locks this
    // store's chain until the transaction ends, so appends to one chain are serialised.
    virtual std::optional<AuditRecord> last_audit_record() = 0;
    virtual void insert_audit_record(const AuditRecord& record) = 0;
    virtual std::vector<std::string> audit_chains() = 0;
    virtual void for_each_audit_record(const std::string& chain, const std::function<void(const AuditRecord&)>& fn) = 0;
    virtual std::int64_t audit_record_count() = 0;

    virtual std::string description() const = 0;  // for log lines: never a password
};

enum class OpenMode { create, existing };

// The store the config names: PostgreSQL when keystore.database is set, else the SQLite file under
// keystore.directory. `existing` refuses to create a missing SQLite file (admin commands).
std::unique_ptr<MapStore> open_map_store(const config::Config& config, OpenMode mode);
bool uses_postgres(const config::Config& config);

}  // namespace keystore
