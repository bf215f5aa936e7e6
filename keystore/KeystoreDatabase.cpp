#include "keystore/KeystoreDatabase.h"

#include <sqlite3.h>

#include <stdexcept>

#include "keystore/SqliteStatement.h"

namespace keystore {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO counts VALUES('patients', 0), ('uids', 0);
CREATE TABLE IF NOT EXISTS patients(
  issuer TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  pseudonym TEXT NOT NULL,
  date_offset INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  imported INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(issuer, patient_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS patients_pseudonym ON patients(pseudonym);
CREATE TABLE IF NOT EXISTS uids(
  original TEXT PRIMARY KEY,
  new TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  imported INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS uids_new ON uids(new);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  operation TEXT NOT NULL,
  operator TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES('schema_version', '1');
)sql";

PatientMapping patient_row(const SqliteStatement& s) {
    PatientMapping m;
    m.issuer = s.text(0);
    m.patient_id = s.text(1);
    m.pseudonym = s.text(2);
    m.date_offset_days = static_cast<int>(s.integer(3));
    m.first_seen = s.integer(4);
    m.imported = s.integer(5) != 0;
    return m;
}

UidMapping uid_row(const SqliteStatement& s) {
    UidMapping m;
    m.original = s.text(0);
    m.replacement = s.text(1);
    m.first_seen = s.integer(2);
    m.imported = s.integer(3) != 0;
    return m;
}

constexpr const char* kPatientColumns = "issuer, patient_id, pseudonym, date_offset, first_seen, imported";

}  // namespace

KeystoreDatabase::KeystoreDatabase(const std::string& path, Open mode) : path_(path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (mode == Open::create) flags |= SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("cannot open the keystore database " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 10000);
    try {
        exec("PRAGMA journal_mode=WAL");
        // Committed transactions are in the WAL before the reply is sent: a killed process loses
        // nothing it answered. (FULL would also survive a power cut, at one fsync per commit.)
        exec("PRAGMA synchronous=NORMAL");
        exec("PRAGMA cache_size=-262144");  // 256 MB of page cache for the B-tree interior pages
        exec("PRAGMA wal_autocheckpoint=10000");
        exec("PRAGMA mmap_size=2147418112");  // SQLite's default upper limit (SQLITE_MAX_MMAP_SIZE)
        exec("BEGIN IMMEDIATE");
        exec(kSchema);
        exec("COMMIT");
    } catch (...) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

KeystoreDatabase::~KeystoreDatabase() {
    find_patient_.reset();
    insert_patient_.reset();
    find_uid_.reset();
    insert_uid_.reset();
    add_count_.reset();
    begin_immediate_.reset();
    begin_deferred_.reset();
    commit_.reset();
    prepared_.clear();
    if (db_) sqlite3_close(db_);
}

void KeystoreDatabase::exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        const std::string message = error ? error : "unknown error";
        sqlite3_free(error);
        throw std::runtime_error("keystore database: " + message);
    }
}

// The per-question transaction's BEGIN and COMMIT are prepared once (sqlite3_exec would parse and
// compile them again for every batch); same statements, same durability.
void KeystoreDatabase::begin_immediate() { statement(begin_immediate_, "BEGIN IMMEDIATE").step(); }
void KeystoreDatabase::begin_deferred() { statement(begin_deferred_, "BEGIN DEFERRED").step(); }
void KeystoreDatabase::begin_snapshot() { exec("BEGIN"); }  // WAL: a read transaction is a snapshot
void KeystoreDatabase::make_commits_durable() { exec("PRAGMA synchronous=FULL"); }
bool KeystoreDatabase::last_error_was_busy() const { return (sqlite3_extended_errcode(db_) & 0xff) == SQLITE_BUSY; }
void KeystoreDatabase::commit() { statement(commit_, "COMMIT").step(); }
void KeystoreDatabase::rollback() noexcept {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

SqliteStatement& KeystoreDatabase::statement(std::unique_ptr<SqliteStatement>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<SqliteStatement>(db_, sql);
    slot->reset();
    return *slot;
}

SqliteStatement& KeystoreDatabase::prepared(const std::string& sql) {
    return statement(prepared_[sql], sql.c_str());
}

std::optional<std::string> KeystoreDatabase::meta(const std::string& key) {
    SqliteStatement s(db_, "SELECT value FROM meta WHERE key = ?");
    s.bind(1, key);
    if (s.step()) return s.text(0);
    return std::nullopt;
}

void KeystoreDatabase::set_meta(const std::string& key, const std::string& value) {
    SqliteStatement s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    s.bind(1, key).bind(2, value);
    s.step();
}

std::optional<PatientMapping> KeystoreDatabase::find_patient(const std::string& issuer, const std::string& patient_id) {
    auto& s = statement(find_patient_, "SELECT issuer, patient_id, pseudonym, date_offset, first_seen, imported "
                                       "FROM patients WHERE issuer = ? AND patient_id = ?");
    s.bind(1, issuer).bind(2, patient_id);
    std::optional<PatientMapping> out;
    if (s.step()) out = patient_row(s);
    s.reset();
    return out;
}

bool KeystoreDatabase::insert_patient(const PatientMapping& m) {
    auto& s = statement(insert_patient_, "INSERT OR IGNORE INTO patients(issuer, patient_id, pseudonym, date_offset, "
                                         "first_seen, imported) VALUES(?, ?, ?, ?, ?, ?)");
    s.bind(1, m.issuer).bind(2, m.patient_id).bind(3, m.pseudonym).bind(4, std::int64_t(m.date_offset_days));
    s.bind(5, m.first_seen).bind(6, std::int64_t(m.imported ? 1 : 0));
    s.step();
    s.reset();
    return sqlite3_changes(db_) == 1;
}

std::optional<std::string> KeystoreDatabase::find_uid(const std::string& original) {
    auto& s = statement(find_uid_, "SELECT new FROM uids WHERE original = ?");
    s.bind(1, original);
    std::optional<std::string> out;
    if (s.step()) out = s.text(0);
    s.reset();
    return out;
}

bool KeystoreDatabase::insert_uid(const UidMapping& m) {
    auto& s = statement(insert_uid_, "INSERT OR IGNORE INTO uids(original, new, first_seen, imported) VALUES(?, ?, ?, ?)");
    s.bind(1, m.original).bind(2, m.replacement).bind(3, m.first_seen).bind(4, std::int64_t(m.imported ? 1 : 0));
    s.step();
    s.reset();
    return sqlite3_changes(db_) == 1;
}

void KeystoreDatabase::add_counts(std::int64_t patients, std::int64_t uids) {
    auto& s = statement(add_count_, "UPDATE counts SET n = n + ? WHERE name = ?");
    if (patients) {
        s.bind(1, patients).bind(2, std::string("patients"));
        s.step();
        s.reset();
    }
    if (uids) {
        s.bind(1, uids).bind(2, std::string("uids"));
        s.step();
        s.reset();
    }
}

MapCounts KeystoreDatabase::counts() {
    SqliteStatement s(db_, "SELECT name, n FROM counts");
    MapCounts c;
    while (s.step()) {
        if (s.text(0) == "patients") c.patients = s.integer(1);
        if (s.text(0) == "uids") c.uids = s.integer(1);
    }
    return c;
}

std::vector<PatientMapping> KeystoreDatabase::patients_with_pseudonym(const std::string& pseudonym) {
    SqliteStatement s(db_, std::string("SELECT ") + kPatientColumns + " FROM patients WHERE pseudonym = ?");
    s.bind(1, pseudonym);
    std::vector<PatientMapping> out;
    while (s.step()) out.push_back(patient_row(s));
    return out;
}

std::optional<UidMapping> KeystoreDatabase::uid_with_replacement(const std::string& replacement) {
    SqliteStatement s(db_, "SELECT original, new, first_seen, imported FROM uids WHERE new = ?");
    s.bind(1, replacement);
    if (s.step()) return uid_row(s);
    return std::nullopt;
}

std::map<PatientKey, PatientMapping> KeystoreDatabase::find_patients(const std::vector<PatientKey>& keys) {
    std::map<PatientKey, PatientMapping> out;
    for (const PatientKey& k : keys)
        if (auto m = find_patient(k.first, k.second)) out.emplace(k, std::move(*m));
    return out;
}

std::vector<bool> KeystoreDatabase::insert_patients(const std::vector<PatientMapping>& rows) {
    std::vector<bool> out;
    out.reserve(rows.size());
    for (const PatientMapping& m : rows) out.push_back(insert_patient(m));
    return out;
}

std::map<std::string, std::string> KeystoreDatabase::find_uids(const std::vector<std::string>& originals) {
    std::map<std::string, std::string> out;
    for (const std::string& o : originals)
        if (auto n = find_uid(o)) out.emplace(o, std::move(*n));
    return out;
}

std::vector<bool> KeystoreDatabase::insert_uids(const std::vector<UidMapping>& rows) {
    std::vector<bool> out;
    out.reserve(rows.size());
    for (const UidMapping& m : rows) out.push_back(insert_uid(m));
    return out;
}

std::int64_t KeystoreDatabase::size_bytes() {
    SqliteStatement s(db_, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
    return s.step() ? s.integer(0) : 0;
}

std::optional<AuditRecord> KeystoreDatabase::last_audit_record() {
    SqliteStatement& last = prepared("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    std::optional<AuditRecord> out;
    if (last.step()) {
        out.emplace();
        out->seq = last.integer(0);
        out->hash = last.text(1);
    }
    last.reset();
    return out;
}

void KeystoreDatabase::insert_audit_record(const AuditRecord& r) {
    SqliteStatement& insert = prepared(
        "INSERT INTO audit(seq, time, operation, operator, reason, detail, prev_hash, hash) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, r.seq).bind(2, r.time).bind(3, r.operation).bind(4, r.operator_name).bind(5, r.reason);
    insert.bind(6, r.detail).bind(7, r.prev_hash).bind(8, r.hash);
    insert.step();
    insert.reset();
}

void KeystoreDatabase::for_each_audit_record(const std::string& chain,
                                             const std::function<void(const AuditRecord&)>& fn) {
    SqliteStatement s(db_, "SELECT seq, time, operation, operator, reason, detail, prev_hash, hash FROM audit ORDER BY seq");
    while (s.step()) {
        AuditRecord r;
        r.chain = chain;
        r.seq = s.integer(0);
        r.time = s.text(1);
        r.operation = s.text(2);
        r.operator_name = s.text(3);
        r.reason = s.text(4);
        r.detail = s.text(5);
        r.prev_hash = s.text(6);
        r.hash = s.text(7);
        fn(r);
    }
}

std::int64_t KeystoreDatabase::audit_record_count() {
    // seq is dense (1..n) in an intact chain; max(seq) is O(1) where count(*) is a scan.
    SqliteStatement last(db_, "SELECT coalesce(max(seq), 0) FROM audit");
    return last.step() ? last.integer(0) : 0;
}

void KeystoreDatabase::for_each_patient(const std::function<void(const PatientMapping&)>& fn) {
    SqliteStatement s(db_, std::string("SELECT ") + kPatientColumns + " FROM patients ORDER BY issuer, patient_id");
    while (s.step()) fn(patient_row(s));
}

void KeystoreDatabase::for_each_uid(const std::function<void(const UidMapping&)>& fn) {
    SqliteStatement s(db_, "SELECT original, new, first_seen, imported FROM uids ORDER BY original");
    while (s.step()) fn(uid_row(s));
}

}  // namespace keystore
