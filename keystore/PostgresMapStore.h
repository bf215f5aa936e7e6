// The re-identification map in one PostgreSQL database shared by several brokers (libpq), chosen
// with keystore.database = "postgresql://user@host:port/db". Same tables as the SQLite store, with
// two differences that let brokers write without waiting on each other:
//   - counts: one row per (name, writer) instead of one per name (a single counter row would make
//     every broker's transaction wait for the others'); counts() sums them;
//   - audit: one hash chain per writer (column `chain`, "<host>:<keystore folder>"); appends to a
//     chain are serialised by a transaction-scoped advisory lock on the chain's name.
// Batches are sent as one JSON parameter (json_to_recordset) and recorded with
// INSERT ... ON CONFLICT DO NOTHING ... RETURNING, rows sorted by key (no deadlocks between two
// brokers inserting overlapping batches); a batch costs a handful of round trips whatever its size.
// Transactions are READ COMMITTED with synchronous_commit=on: a commit is on disk before it returns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keystore/MapStore.h"

struct pg_conn;
struct pg_result;

namespace keystore {

class PostgresMapStore : public MapStore {
public:
    // Connects (throws std::runtime_error naming the server, never the password) and creates the
    // tables when missing. `keystore_dir` names this writer's audit chain and counts row.
    PostgresMapStore(const std::string& uri, const std::string& keystore_dir);
    ~PostgresMapStore() override;
    PostgresMapStore(const PostgresMapStore&) = delete;
    PostgresMapStore& operator=(const PostgresMapStore&) = delete;

    void begin_immediate() override;
    void begin_deferred() override;
    void begin_snapshot() override;
    bool last_error_was_busy() const override;
    void commit() override;
    void rollback() noexcept override;
    void make_commits_durable() override {}  // synchronous_commit=on already

    std::optional<std::string> meta(const std::string& key) override;
    void set_meta(const std::string& key, const std::string& value) override;

    std::map<PatientKey, PatientMapping> find_patients(const std::vector<PatientKey>& keys) override;
    std::vector<bool> insert_patients(const std::vector<PatientMapping>& rows) override;
    std::map<std::string, std::string> find_uids(const std::vector<std::string>& originals) override;
    std::vector<bool> insert_uids(const std::vector<UidMapping>& rows) override;
    void add_counts(std::int64_t patients, std::int64_t uids) override;
    MapCounts counts() override;

    std::vector<PatientMapping> patients_with_pseudonym(const std::string& pseudonym) override;
    std::optional<UidMapping> uid_with_replacement(const std::string& replacement) override;
    void for_each_patient(const std::function<void(const PatientMapping&)>& fn) override;
    void for_each_uid(const std::function<void(const UidMapping&)>& fn) override;
    std::int64_t size_bytes() override;

    std::optional<AuditRecord> last_audit_record() override;
    void insert_audit_record(const AuditRecord& record) override;
    std::vector<std::string> audit_chains() override;
    void for_each_audit_record(const std::string& chain, const std::function<void(const AuditRecord&)>& fn) override;
    std::int64_t audit_record_count() override;

    std::string description() const override { return description_; }
    const std::string& chain() const { return chain_; }

private:
    struct ResultDeleter {
        void operator()(pg_result* r) const;
    };
    using Result = std::unique_ptr<pg_result, ResultDeleter>;

    Result run(const char* sql, const std::vector<std::string>& params = {});
    void for_each_row(const char* sql, const std::vector<std::string>& params,
                      const std::function<void(pg_result*, int)>& fn);  // streamed (single-row mode)
    void begin(const char* sql);
    [[noreturn]] void fail(const std::string& what, pg_result* r);

    pg_conn* conn_ = nullptr;
    std::string chain_;
    std::string description_;
    std::string last_sqlstate_;
};

}  // namespace keystore
