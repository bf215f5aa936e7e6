#include "keystore/PostgresMapStore.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <climits>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace keystore {

namespace {

using nlohmann::json;

// Created under an advisory lock: two brokers starting together on an empty database would
// otherwise race on CREATE TABLE IF NOT EXISTS. Key columns use the "C" collation: byte order,
// as in SQLite, whatever the database's locale.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS counts(
  name text COLLATE "C" NOT NULL,
  writer text COLLATE "C" NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY(name, writer));
CREATE TABLE IF NOT EXISTS patients(
  issuer text COLLATE "C" NOT NULL,
  patient_id text COLLATE "C" NOT NULL,
  pseudonym text COLLATE "C" NOT NULL,
  date_offset integer NOT NULL,
  first_seen bigint NOT NULL,
  imported boolean NOT NULL DEFAULT false,
  PRIMARY KEY(issuer, patient_id));
CREATE INDEX IF NOT EXISTS patients_pseudonym ON patients(pseudonym);
CREATE TABLE IF NOT EXISTS uids(
  original text COLLATE "C" PRIMARY KEY,
  new text COLLATE "C" NOT NULL UNIQUE,
  first_seen bigint NOT NULL,
  imported boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS audit(
  chain text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  time text NOT NULL,
  operation text NOT NULL,
  operator text NOT NULL,
  reason text NOT NULL,
  detail text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY(chain, seq));
INSERT INTO meta VALUES('schema_version', '1') ON CONFLICT DO NOTHING;
)sql";

constexpr long long kSchemaLock = 0x6465696453636865LL;  // "deidSche"

std::string cell(pg_result* r, int row, int col) { return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col)); }
std::int64_t number(pg_result* r, int row, int col) { return std::stoll(PQgetvalue(r, row, col)); }
bool boolean(pg_result* r, int row, int col) { return PQgetvalue(r, row, col)[0] == 't'; }

PatientMapping patient_row(pg_result* r, int row) {
    PatientMapping m;
    m.issuer = cell(r, row, 0);
    m.patient_id = cell(r, row, 1);
    m.pseudonym = cell(r, row, 2);
    m.date_offset_days = static_cast<int>(number(r, row, 3));
    m.first_seen = number(r, row, 4);
    m.imported = boolean(r, row, 5);
    return m;
}

UidMapping uid_row(pg_result* r, int row) {
    return UidMapping{cell(r, row, 0), cell(r, row, 1), number(r, row, 2), boolean(r, row, 3)};
}

AuditRecord audit_row(pg_result* r, int row) {
    AuditRecord a;
    a.chain = cell(r, row, 0);
    a.seq = number(r, row, 1);
    a.time = cell(r, row, 2);
    a.operation = cell(r, row, 3);
    a.operator_name = cell(r, row, 4);
    a.reason = cell(r, row, 5);
    a.detail = cell(r, row, 6);
    a.prev_hash = cell(r, row, 7);
    a.hash = cell(r, row, 8);
    return a;
}

// A batch as one JSON parameter; values that are not valid UTF-8 make dump() throw, which fails
// the transaction (PostgreSQL's text would refuse them too).
std::string json_param(const json& rows) { return rows.dump(); }

constexpr const char* kPatientColumns = "issuer, patient_id, pseudonym, date_offset, first_seen, imported";
constexpr const char* kAuditColumns = "chain, seq, time, operation, operator, reason, detail, prev_hash, hash";

std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

}  // namespace

void PostgresMapStore::ResultDeleter::operator()(pg_result* r) const { PQclear(r); }

PostgresMapStore::PostgresMapStore(const std::string& uri, const std::string& keystore_dir)
    : chain_(host_name() + ":" + keystore_dir) {
    conn_ = PQconnectdb(uri.c_str());
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
        // libpq's message names host, port and user, never the password.
        const std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
        PQfinish(conn_);
        conn_ = nullptr;
        throw std::runtime_error("cannot connect to the keystore database (keystore.database): " + message);
    }
    description_ = std::string("PostgreSQL ") + PQhost(conn_) + ":" + PQport(conn_) + "/" + PQdb(conn_);
    try {
        run("SET synchronous_commit = on");  // a commit is durable before the broker answers
        run("SET client_min_messages = warning");
        begin("BEGIN");
        run("SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(kSchemaLock)});
        run(kSchema);
        commit();
    } catch (...) {
        rollback();
        PQfinish(conn_);
        conn_ = nullptr;
        throw;
    }
}

PostgresMapStore::~PostgresMapStore() {
    if (conn_) PQfinish(conn_);
}

void PostgresMapStore::fail(const std::string& what, pg_result* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate_ = state ? state : "";
    std::string message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    // A DETAIL line may quote a key value ("Key (original)=(1.2.3) already exists"): keep only the
    // primary message, which names no value.
    if (r && PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) message = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    throw std::runtime_error("keystore database (" + what + "): " + message);
}

PostgresMapStore::Result PostgresMapStore::run(const char* sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    Result r(params.empty() ? PQexec(conn_, sql)
                            : PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, values.data(),
                                           nullptr, nullptr, 0));
    const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("query", r.get());
    last_sqlstate_.clear();
    return r;
}

void PostgresMapStore::for_each_row(const char* sql, const std::vector<std::string>& params,
                                    const std::function<void(pg_result*, int)>& fn) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    if (!PQsendQueryParams(conn_, sql, static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr, 0))
        fail("query", nullptr);
    PQsetSingleRowMode(conn_);
    std::string error;
    Result failed;
    while (true) {
        Result r(PQgetResult(conn_));
        if (!r) break;
        const ExecStatusType status = PQresultStatus(r.get());
        if (status == PGRES_SINGLE_TUPLE) {
            if (error.empty()) {
                try {
                    fn(r.get(), 0);
                } catch (const std::exception& e) {
                    error = e.what();  // drain the rest of the results before throwing
                }
            }
        } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
            failed = std::move(r);
        }
    }
    if (failed) fail("query", failed.get());
    if (!error.empty()) throw std::runtime_error(error);
}

void PostgresMapStore::begin(const char* sql) {
    // libpq learns that the server restarted or the connection broke only when a command fails, and
    // a transaction's first command loses nothing: then reconnect once and begin again.
    for (int attempt = 0;; ++attempt) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            PQreset(conn_);
            if (PQstatus(conn_) != CONNECTION_OK) fail("reconnect", nullptr);
            run("SET synchronous_commit = on");
            run("SET client_min_messages = warning");
        }
        try {
            run(sql);
            return;
        } catch (const std::exception&) {
            if (attempt > 0 || PQstatus(conn_) == CONNECTION_OK) throw;
        }
    }
}

void PostgresMapStore::begin_immediate() { begin("BEGIN"); }
void PostgresMapStore::begin_deferred() { begin("BEGIN"); }
void PostgresMapStore::begin_snapshot() { begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }

bool PostgresMapStore::last_error_was_busy() const {
    return last_sqlstate_ == "40001" || last_sqlstate_ == "40P01";  // serialization_failure, deadlock_detected
}

void PostgresMapStore::commit() { run("COMMIT"); }

void PostgresMapStore::rollback() noexcept {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
        PQclear(PQexec(conn_, "ROLLBACK"));
}

std::optional<std::string> PostgresMapStore::meta(const std::string& key) {
    Result r = run("SELECT value FROM meta WHERE key = $1", {key});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return cell(r.get(), 0, 0);
}

void PostgresMapStore::set_meta(const std::string& key, const std::string& value) {
    // key_check is written once: a broker with another secret never replaces it.
    run("INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value "
        "WHERE meta.key <> 'key_check'",
        {key, value});
}

std::map<PatientKey, PatientMapping> PostgresMapStore::find_patients(const std::vector<PatientKey>& keys) {
    std::map<PatientKey, PatientMapping> out;
    if (keys.empty()) return out;
    json rows = json::array();
    for (const PatientKey& k : keys) rows.push_back({{"i", k.first}, {"p", k.second}});
    Result r = run("SELECT t.issuer, t.patient_id, t.pseudonym, t.date_offset, t.first_seen, t.imported "
                   "FROM json_to_recordset($1::json) AS k(i text, p text) "
                   "JOIN patients t ON t.issuer = k.i AND t.patient_id = k.p",
                   {json_param(rows)});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        PatientMapping m = patient_row(r.get(), i);
        PatientKey key{m.issuer, m.patient_id};
        out.emplace(std::move(key), std::move(m));
    }
    return out;
}

std::vector<bool> PostgresMapStore::insert_patients(const std::vector<PatientMapping>& rows) {
    if (rows.empty()) return {};
    json batch = json::array();
    for (const PatientMapping& m : rows)
        batch.push_back({{"i", m.issuer}, {"p", m.patient_id}, {"s", m.pseudonym}, {"o", m.date_offset_days},
                         {"f", m.first_seen}, {"m", m.imported}});
    Result r = run("INSERT INTO patients(issuer, patient_id, pseudonym, date_offset, first_seen, imported) "
                   "SELECT i, p, s, o, f, m FROM json_to_recordset($1::json) "
                   "AS k(i text, p text, s text, o integer, f bigint, m boolean) "
                   "ORDER BY i COLLATE \"C\", p COLLATE \"C\" "
                   "ON CONFLICT DO NOTHING RETURNING issuer, patient_id",
                   {json_param(batch)});
    std::set<PatientKey> inserted;
    for (int i = 0; i < PQntuples(r.get()); ++i) inserted.emplace(cell(r.get(), i, 0), cell(r.get(), i, 1));
    std::vector<bool> out;
    out.reserve(rows.size());
    for (const PatientMapping& m : rows) out.push_back(inserted.erase({m.issuer, m.patient_id}) == 1);
    return out;
}

std::map<std::string, std::string> PostgresMapStore::find_uids(const std::vector<std::string>& originals) {
    std::map<std::string, std::string> out;
    if (originals.empty()) return out;
    Result r = run("SELECT t.original, t.new FROM json_array_elements_text($1::json) AS k(o) "
                   "JOIN uids t ON t.original = k.o",
                   {json_param(json(originals))});
    for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace(cell(r.get(), i, 0), cell(r.get(), i, 1));
    return out;
}

std::vector<bool> PostgresMapStore::insert_uids(const std::vector<UidMapping>& rows) {
    if (rows.empty()) return {};
    json batch = json::array();
    for (const UidMapping& m : rows)
        batch.push_back({{"o", m.original}, {"n", m.replacement}, {"f", m.first_seen}, {"m", m.imported}});
    // No conflict target: a row whose original or whose new UID exists is skipped (not inserted).
    Result r = run("INSERT INTO uids(original, new, first_seen, imported) "
                   "SELECT o, n, f, m FROM json_to_recordset($1::json) AS k(o text, n text, f bigint, m boolean) "
                   "ORDER BY o COLLATE \"C\" ON CONFLICT DO NOTHING RETURNING original",
                   {json_param(batch)});
    std::set<std::string> inserted;
    for (int i = 0; i < PQntuples(r.get()); ++i) inserted.insert(cell(r.get(), i, 0));
    std::vector<bool> out;
    out.reserve(rows.size());
    for (const UidMapping& m : rows) out.push_back(inserted.erase(m.original) == 1);
    return out;
}

void PostgresMapStore::add_counts(std::int64_t patients, std::int64_t uids) {
    if (!patients && !uids) return;
    run("INSERT INTO counts(name, writer, n) VALUES('patients', $1, $2), ('uids', $1, $3) "
        "ON CONFLICT(name, writer) DO UPDATE SET n = counts.n + excluded.n",
        {chain_, std::to_string(patients), std::to_string(uids)});
}

MapCounts PostgresMapStore::counts() {
    Result r = run("SELECT name, sum(n) FROM counts GROUP BY name");
    MapCounts c;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        if (cell(r.get(), i, 0) == "patients") c.patients = number(r.get(), i, 1);
        if (cell(r.get(), i, 0) == "uids") c.uids = number(r.get(), i, 1);
    }
    return c;
}

std::vector<PatientMapping> PostgresMapStore::patients_with_pseudonym(const std::string& pseudonym) {
    Result r = run((std::string("SELECT ") + kPatientColumns + " FROM patients WHERE pseudonym = $1").c_str(),
                   {pseudonym});
    std::vector<PatientMapping> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(patient_row(r.get(), i));
    return out;
}

std::optional<UidMapping> PostgresMapStore::uid_with_replacement(const std::string& replacement) {
    Result r = run("SELECT original, new, first_seen, imported FROM uids WHERE new = $1", {replacement});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return uid_row(r.get(), 0);
}

void PostgresMapStore::for_each_patient(const std::function<void(const PatientMapping&)>& fn) {
    for_each_row((std::string("SELECT ") + kPatientColumns + " FROM patients ORDER BY issuer, patient_id").c_str(), {},
                 [&](pg_result* r, int row) { fn(patient_row(r, row)); });
}

void PostgresMapStore::for_each_uid(const std::function<void(const UidMapping&)>& fn) {
    for_each_row("SELECT original, new, first_seen, imported FROM uids ORDER BY original", {},
                 [&](pg_result* r, int row) { fn(uid_row(r, row)); });
}

std::int64_t PostgresMapStore::size_bytes() {
    Result r = run("SELECT pg_database_size(current_database())");
    return number(r.get(), 0, 0);
}

std::optional<AuditRecord> PostgresMapStore::last_audit_record() {
    // Held until the transaction ends: the next writer of this chain sees this one's record.
    run("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {chain_});
    Result r = run((std::string("SELECT ") + kAuditColumns + " FROM audit WHERE chain = $1 ORDER BY seq DESC LIMIT 1")
                       .c_str(),
                   {chain_});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return audit_row(r.get(), 0);
}

void PostgresMapStore::insert_audit_record(const AuditRecord& a) {
    run("INSERT INTO audit(chain, seq, time, operation, operator, reason, detail, prev_hash, hash) "
        "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {chain_, std::to_string(a.seq), a.time, a.operation, a.operator_name, a.reason, a.detail, a.prev_hash, a.hash});
}

std::vector<std::string> PostgresMapStore::audit_chains() {
    Result r = run("SELECT DISTINCT chain FROM audit ORDER BY chain");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(cell(r.get(), i, 0));
    return out;
}

void PostgresMapStore::for_each_audit_record(const std::string& chain,
                                             const std::function<void(const AuditRecord&)>& fn) {
    for_each_row((std::string("SELECT ") + kAuditColumns + " FROM audit WHERE chain = $1 ORDER BY seq").c_str(), {chain},
                 [&](pg_result* r, int row) { fn(audit_row(r, row)); });
}

std::int64_t PostgresMapStore::audit_record_count() {
    Result r = run("SELECT count(*) FROM audit");
    return number(r.get(), 0, 0);
}

}  // namespace keystore
