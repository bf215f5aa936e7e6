#include "keystore/AdminCommands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <array>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <optional>
#include <ostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "keystore/AuditLog.h"
#include "keystore/BrokerConnection.h"
#include "keystore/CsvMapFile.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/MapStore.h"
#include "keystore/SecretKey.h"

namespace keystore {

namespace {

using nlohmann::json;
using Rows = std::vector<std::pair<std::string, std::string>>;

struct Failure : std::runtime_error {
    Failure(int code, const std::string& what) : std::runtime_error(what), exit_code(code) {}
    int exit_code;
};

std::string db_path(const config::Config& config) {
    return config.keystore_dir() + "/" + KeystoreDatabase::kFileName;
}

// The map the config names (SQLite file or keystore.database): every command runs against it.
std::unique_ptr<MapStore> open_existing(const config::Config& config) {
    umask(077);
    try {
        return open_map_store(config, OpenMode::existing);
    } catch (const std::exception& e) {
        throw Failure(2, e.what());
    }
}

std::string iso_time(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void print_rows(std::ostream& out, const Rows& rows) {
    std::size_t width = 0;
    for (const auto& r : rows) width = std::max(width, r.first.size());
    for (const auto& r : rows) out << std::left << std::setw(static_cast<int>(width + 2)) << r.first << r.second << "\n";
}

json patient_json(const PatientMapping& m, bool with_id) {
    json j = {{"issuer", m.issuer},
              {"pseudonym", m.pseudonym},
              {"date_offset_days", m.date_offset_days},
              {"first_seen", iso_time(m.first_seen)},
              {"source", m.imported ? "imported" : "derived"}};
    if (with_id) j["patient_id"] = m.patient_id;
    return j;
}

Rows patient_rows(const PatientMapping& m, bool with_id) {
    Rows rows = {{"issuer", m.issuer.empty() ? "(none)" : m.issuer}};
    if (with_id) rows.emplace_back("patient_id", m.patient_id.empty() ? "(empty Patient ID)" : m.patient_id);
    rows.emplace_back("pseudonym", m.pseudonym);
    rows.emplace_back("date_offset_days", std::to_string(m.date_offset_days));
    rows.emplace_back("first_seen", iso_time(m.first_seen));
    rows.emplace_back("source", m.imported ? "imported" : "derived");
    return rows;
}

// Runs `body` as one write transaction (audit record included); returns its exit code.
template <typename Body>
int guarded(const AdminContext& c, Body body) {
    try {
        return body();
    } catch (const Failure& e) {
        c.err << "deid-keystore: " << e.what() << "\n";
        return e.exit_code;
    } catch (const std::exception& e) {
        c.err << "deid-keystore: " << e.what() << "\n";
        return 2;
    }
}

void audit(MapStore& db, const std::string& operation, const std::string& reason, const json& detail) {
    db.begin_immediate();
    try {
        AuditLog(db).append(operation, reason, detail);
        db.commit();
    } catch (...) {
        db.rollback();
        throw;
    }
}

std::string sha256_file_hex(const std::string& text) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), d, &n, EVP_sha256(), nullptr);
    std::ostringstream o;
    for (unsigned int i = 0; i < n; ++i) o << std::hex << std::setw(2) << std::setfill('0') << int(d[i]);
    return o.str();
}


// An audit time bound as stored (2026-12-01T20:00:05.000Z, so text order is time order), from
// ISO 8601 UTC ("2026-12-01", "2026-12-01T20:00", "2026-12-01T20:00:05[.123][Z]") or an age before
// `now` ("90s", "30m", "24h", "7d"). Empty when the text is neither.
std::optional<std::string> audit_time_bound(const std::string& text, std::time_t now) {
    static const std::regex age(R"(([0-9]{1,9})([smhd]))");
    static const std::regex iso(
        R"(([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,3}))?)?)?Z?)");
    std::smatch m;
    std::tm tm{};
    std::string millis = "000";
    if (std::regex_match(text, m, age)) {
        const std::int64_t unit = m[2] == "s" ? 1 : m[2] == "m" ? 60 : m[2] == "h" ? 3600 : 86400;
        const std::time_t t = now - static_cast<std::time_t>(std::stoll(m[1]) * unit);
        gmtime_r(&t, &tm);
    } else if (std::regex_match(text, m, iso)) {
        tm.tm_year = std::stoi(m[1]) - 1900;
        tm.tm_mon = std::stoi(m[2]) - 1;
        tm.tm_mday = std::stoi(m[3]);
        tm.tm_hour = m[4].matched ? std::stoi(m[4]) : 0;
        tm.tm_min = m[5].matched ? std::stoi(m[5]) : 0;
        tm.tm_sec = m[6].matched ? std::stoi(m[6]) : 0;
        if (m[7].matched) millis = (m[7].str() + "00").substr(0, 3);
        // timegm normalises out-of-range fields (2026-02-30 -> 03-02): such a date is refused.
        std::tm check = tm;
        const std::time_t t = timegm(&check);
        std::tm back{};
        gmtime_r(&t, &back);
        if (back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon || back.tm_mday != tm.tm_mday ||
            back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min || back.tm_sec != tm.tm_sec)
            return std::nullopt;
    } else {
        return std::nullopt;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, millis.c_str());
    return std::string(buf);
}

constexpr const char* kAuditOperations[] = {"create", "issue", "lookup", "reidentify", "import", "export",
                                            "questions", "alarm"};

}  // namespace

int lookup_patient(const AdminContext& c, const std::string& issuer, const std::string& patient_id) {
    return guarded(c, [&] {
        auto db = open_existing(c.config);
        const auto m = db->find_patient(issuer, patient_id);
        audit(*db, "lookup", "", {{"by", "patient_id"}, {"found", m.has_value()}, {"pseudonym", m ? m->pseudonym : ""}});
        if (!m) {
            if (c.json) c.out << json{{"found", false}}.dump(2) << "\n";
            else c.err << "deid-keystore: no mapping for that patient" << (issuer.empty() ? " (issuer empty)" : "") << "\n";
            return 1;
        }
        if (c.json) c.out << json{{"found", true}, {"patient", patient_json(*m, true)}}.dump(2) << "\n";
        else print_rows(c.out, patient_rows(*m, true));
        return 0;
    });
}

// Patients found by pseudonym, as JSON or aligned text; with_patient_id only for re-identification.
template <typename Patients>
void print_patients(const AdminContext& c, const Patients& found, bool with_patient_id) {
    if (c.json) {
        json list = json::array();
        for (const auto& m : found) list.push_back(patient_json(m, with_patient_id));
        c.out << json{{"found", true}, {"patients", list}}.dump(2) << "\n";
        return;
    }
    for (std::size_t i = 0; i < found.size(); ++i) {
        if (i) c.out << "\n";
        print_rows(c.out, patient_rows(found[i], with_patient_id));
    }
}

int lookup_pseudonym(const AdminContext& c, const std::string& pseudonym) {
    return guarded(c, [&] {
        auto db = open_existing(c.config);
        const auto found = db->patients_with_pseudonym(pseudonym);
        audit(*db, "lookup", "", {{"by", "pseudonym"}, {"pseudonym", pseudonym}, {"matches", found.size()}});
        if (found.empty()) {
            if (c.json) c.out << json{{"found", false}}.dump(2) << "\n";
            else c.err << "deid-keystore: no patient has that pseudonym\n";
            return 1;
        }
        // The Patient ID is not shown here: that is re-identification (reidentify --reason).
        print_patients(c, found, false);
        if (!c.json) c.out << "(the Patient ID is shown only by 'reidentify --pseudonym P --reason TEXT')\n";
        return 0;
    });
}

int reidentify_pseudonym(const AdminContext& c, const std::string& pseudonym, const std::string& reason) {
    return guarded(c, [&] {
        if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
            throw Failure(2, "reidentify needs a non-empty --reason");
        auto db = open_existing(c.config);
        const auto found = db->patients_with_pseudonym(pseudonym);
        audit(*db, "reidentify", reason, {{"pseudonym", pseudonym}, {"matches", found.size()}});
        if (found.empty()) {
            if (c.json) c.out << json{{"found", false}}.dump(2) << "\n";
            else c.err << "deid-keystore: no patient has that pseudonym\n";
            return 1;
        }
        print_patients(c, found, true);
        return 0;
    });
}

int reidentify_uid(const AdminContext& c, const std::string& uid, const std::string& reason) {
    return guarded(c, [&] {
        if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
            throw Failure(2, "reidentify needs a non-empty --reason");
        auto db = open_existing(c.config);
        const auto m = db->uid_with_replacement(uid);
        audit(*db, "reidentify", reason, {{"uid", uid}, {"found", m.has_value()}});
        if (!m) {
            if (c.json) c.out << json{{"found", false}}.dump(2) << "\n";
            else c.err << "deid-keystore: no original UID was replaced by that UID\n";
            return 1;
        }
        const json j = {{"new_uid", m->replacement},
                        {"original_uid", m->original},
                        {"first_seen", iso_time(m->first_seen)},
                        {"source", m->imported ? "imported" : "derived"}};
        if (c.json) c.out << json{{"found", true}, {"uid", j}}.dump(2) << "\n";
        else
            print_rows(c.out, {{"new_uid", m->replacement},
                               {"original_uid", m->original},
                               {"first_seen", iso_time(m->first_seen)},
                               {"source", m->imported ? "imported" : "derived"}});
        return 0;
    });
}

int import_csv(const AdminContext& c, const std::string& path) {
    return guarded(c, [&] {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw Failure(2, "cannot read " + path);
        std::ostringstream buf;
        buf << in.rdbuf();
        const std::string text = buf.str();
        CsvMap map = CsvMapFile::parse(text, c.config.keystore.default_issuer);

        umask(077);
        const std::string dir = c.config.keystore_dir();
        prepare_keystore_dir(dir);
        const KeyedDerivation derivation(SecretKey::load(dir, true), c.config.keystore.date_offset_min_days,
                                         c.config.keystore.date_offset_max_days);
        const std::unique_ptr<MapStore> store = open_map_store(c.config, OpenMode::create);
        MapStore& db = *store;
        db.make_commits_durable();  // imported values cannot be re-derived: survive a power cut
        int added_patients = 0, added_uids = 0, unchanged = 0;
        db.begin_immediate();
        try {
            const auto check = db.meta("key_check");
            if (check && *check != derivation.key_check())
                throw Failure(2, "the secret key in " + dir + " does not belong to its keystore.db");
            if (!check) db.set_meta("key_check", derivation.key_check());
            const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
            for (const CsvPatientRow& row : map.patients) {
                const auto existing = db.find_patient(row.issuer, row.patient_id);
                if (existing) {
                    if (existing->pseudonym != row.pseudonym ||
                        (row.date_offset_days && *row.date_offset_days != existing->date_offset_days))
                        map.errors.push_back("line " + std::to_string(row.line) +
                                             ": this patient already has a different pseudonym or date offset "
                                             "(first seen " + iso_time(existing->first_seen) +
                                             "); issued mappings cannot change");
                    else
                        ++unchanged;
                    continue;
                }
                PatientMapping m;
                m.issuer = row.issuer;
                m.patient_id = row.patient_id;
                m.pseudonym = row.pseudonym;
                m.date_offset_days = row.date_offset_days ? *row.date_offset_days
                                                          : derivation.date_offset_days(row.issuer, row.patient_id);
                m.first_seen = now;
                m.imported = true;
                if (db.insert_patient(m)) ++added_patients;
                else  // issued by a broker (another host) since the lookup above
                    map.errors.push_back("line " + std::to_string(row.line) + ": this patient was issued meanwhile; retry");
            }
            for (const CsvUidRow& row : map.uids) {
                const auto existing = db.find_uid(row.original_uid);
                if (existing) {
                    if (*existing != row.new_uid)
                        map.errors.push_back("line " + std::to_string(row.line) +
                                             ": original_uid already has a different new UID; issued mappings cannot change");
                    else
                        ++unchanged;
                    continue;
                }
                if (db.replacement_uid_exists(row.new_uid)) {
                    map.errors.push_back("line " + std::to_string(row.line) +
                                         ": new_uid is already the replacement of another UID");
                    continue;
                }
                UidMapping m{row.original_uid, row.new_uid, now, true};
                if (db.insert_uid(m)) ++added_uids;
                else
                    map.errors.push_back("line " + std::to_string(row.line) + ": this UID was issued meanwhile; retry");
            }
            if (!map.errors.empty()) {
                db.rollback();
                std::sort(map.errors.begin(), map.errors.end(), [](const std::string& a, const std::string& b) {
                    return std::stoi(a.substr(5)) < std::stoi(b.substr(5));
                });
                if (c.json) {
                    c.out << json{{"imported", false}, {"errors", map.errors}}.dump(2) << "\n";
                } else {
                    c.err << "deid-keystore: import refused, nothing was imported (" << map.errors.size()
                          << " problem" << (map.errors.size() == 1 ? "" : "s") << "):\n";
                    for (const auto& e : map.errors) c.err << "  " << e << "\n";
                }
                return 1;
            }
            db.add_counts(added_patients, added_uids);
            AuditLog(db).append("import", "",
                                {{"file_sha256", sha256_file_hex(text)},
                                 {"patients", added_patients},
                                 {"uids", added_uids},
                                 {"unchanged", unchanged}});
            db.commit();
        } catch (...) {
            db.rollback();
            throw;
        }
        if (c.json)
            c.out << json{{"imported", true}, {"patients", added_patients}, {"uids", added_uids}, {"unchanged", unchanged}}
                         .dump(2)
                  << "\n";
        else
            print_rows(c.out, {{"patients imported", std::to_string(added_patients)},
                               {"uids imported", std::to_string(added_uids)},
                               {"rows already present", std::to_string(unchanged)}});
        return 0;
    });
}

int export_csv(const AdminContext& c, const std::string& path, bool overwrite) {
    return guarded(c, [&] {
        struct stat existing {};
        const bool existed = lstat(path.c_str(), &existing) == 0;
        if (!overwrite && existed)
            throw Failure(1, path + " already exists; nothing was written (pass --force to replace it)");
        auto db = open_existing(c.config);
        // Written to a temporary file beside the target, then linked (no --force: fails if the
        // target appeared meanwhile) or renamed over it (--force), so the file is whole or absent.
        std::string temp = path + ".partial-XXXXXX";
        const int fd = mkstemp(temp.data());
        if (fd < 0) throw Failure(2, "cannot create a file beside " + path + ": " + std::strerror(errno));
        fchmod(fd, 0600);
        std::string buffer;
        bool ok = true;
        auto flush = [&](bool force) {
            if (!force && buffer.size() < (1 << 20)) return;
            std::size_t off = 0;
            while (off < buffer.size()) {
                const ssize_t n = write(fd, buffer.data() + off, buffer.size() - off);
                if (n <= 0) {
                    ok = false;
                    break;
                }
                off += static_cast<std::size_t>(n);
            }
            buffer.clear();
        };
        std::int64_t patients = 0, uids = 0;
        try {
            // One read transaction: a consistent snapshot even while the broker writes.
            db->begin_snapshot();
            buffer += "issuer,patient_id,pseudonym,date_offset_days\n";
            db->for_each_patient([&](const PatientMapping& m) {
                buffer +=
                    CsvMapFile::line({m.issuer, m.patient_id, m.pseudonym, std::to_string(m.date_offset_days)}) + "\n";
                ++patients;
                flush(false);
            });
            buffer += "original_uid,new_uid\n";
            db->for_each_uid([&](const UidMapping& m) {
                buffer += CsvMapFile::line({m.original, m.replacement}) + "\n";
                ++uids;
                flush(false);
            });
            db->commit();
        } catch (...) {
            close(fd);
            unlink(temp.c_str());
            throw;
        }
        flush(true);
        ok = ok && fsync(fd) == 0;
        const int write_errno = errno;
        close(fd);
        if (!ok) {
            unlink(temp.c_str());
            throw Failure(2, "cannot write " + path + ": " + std::strerror(write_errno));
        }
        const int placed = overwrite ? rename(temp.c_str(), path.c_str()) : link(temp.c_str(), path.c_str());
        const int place_errno = errno;
        if (!overwrite || placed != 0) unlink(temp.c_str());
        if (placed != 0 && place_errno == EEXIST)
            throw Failure(1, path + " already exists; nothing was written (pass --force to replace it)");
        if (placed != 0) throw Failure(2, "cannot create " + path + ": " + std::strerror(place_errno));
        audit(*db, "export", "",
              {{"file", path}, {"patients", patients}, {"uids", uids}, {"replaced", overwrite && existed}});
        if (c.json) c.out << json{{"exported", true}, {"patients", patients}, {"uids", uids}}.dump(2) << "\n";
        else print_rows(c.out, {{"patients exported", std::to_string(patients)}, {"uids exported", std::to_string(uids)}});
        return 0;
    });
}

int show_stats(const AdminContext& c) {
    return guarded(c, [&] {
        auto db = open_existing(c.config);
        const MapCounts counts = db->counts();
        const std::int64_t audit_records = db->audit_record_count();
        struct stat st {};
        const std::int64_t bytes = uses_postgres(c.config) ? db->size_bytes()
                                   : stat(db_path(c.config).c_str(), &st) == 0 ? st.st_size : 0;
        if (c.json)
            c.out << json{{"patients", counts.patients},
                          {"uids", counts.uids},
                          {"audit_records", audit_records},
                          {"database_bytes", bytes}}
                         .dump(2)
                  << "\n";
        else
            print_rows(c.out, {{"patients", std::to_string(counts.patients)},
                               {"uids", std::to_string(counts.uids)},
                               {"audit_records", std::to_string(audit_records)},
                               {"database_bytes", std::to_string(bytes)}});
        return 0;
    });
}

int audit_verify(const AdminContext& c) {
    return guarded(c, [&] {
        auto db = open_existing(c.config);
        db->begin_snapshot();
        const AuditVerification v = AuditLog(*db).verify();
        db->commit();
        // PostgreSQL: one chain per broker host, verified together; each head is printed.
        const bool chained = uses_postgres(c.config);
        if (c.json) {
            json j = {{"ok", v.ok}, {"records", v.records}, {"head_hash", v.head_hash}};
            if (chained) {
                j["chains"] = json::array();
                for (const auto& h : v.chains)
                    j["chains"].push_back({{"chain", h.chain}, {"records", h.records}, {"head_hash", h.head_hash}});
                if (!v.ok) j["bad_chain"] = v.bad_chain;
            }
            if (!v.ok) {
                j["first_bad_record"] = v.first_bad_seq;
                j["problem"] = v.problem;
            }
            c.out << j.dump(2) << "\n";
        } else if (v.ok && chained) {
            Rows rows = {{"audit chains", std::to_string(v.chains.size()) + " intact"},
                         {"records", std::to_string(v.records)}};
            for (const auto& h : v.chains)
                rows.emplace_back("chain " + h.chain, std::to_string(h.records) + " records, head hash " + h.head_hash);
            print_rows(c.out, rows);
        } else if (v.ok) {
            print_rows(c.out, {{"audit chain", "intact"},
                               {"records", std::to_string(v.records)},
                               {"head hash", v.head_hash.empty() ? "(empty log)" : v.head_hash}});
        } else {
            c.err << "deid-keystore: audit chain " << (chained ? v.bad_chain + " " : std::string())
                  << "BROKEN at record " << v.first_bad_seq << ": " << v.problem << "\n";
        }
        return v.ok ? 0 : 1;
    });
}

int audit_list(const AdminContext& c, const AuditFilter& filter) {
    return guarded(c, [&] {
        const std::time_t now = std::time(nullptr);
        std::string since, until;
        if (!filter.since.empty()) {
            const auto t = audit_time_bound(filter.since, now);
            if (!t) throw Failure(2, "--since: expected a UTC time such as 2026-12-01T20:00:00Z or an age such as 24h, got \"" +
                                         filter.since + "\"");
            since = *t;
        }
        if (!filter.until.empty()) {
            const auto t = audit_time_bound(filter.until, now);
            if (!t) throw Failure(2, "--until: expected a UTC time such as 2026-12-01T20:00:00Z or an age such as 24h, got \"" +
                                         filter.until + "\"");
            until = *t;
        }
        if (!filter.operation.empty() &&
            std::none_of(std::begin(kAuditOperations), std::end(kAuditOperations),
                         [&](const char* op) { return filter.operation == op; }))
            throw Failure(2, "--action: expected one of create, issue, lookup, reidentify, import, export, got \"" +
                                 filter.operation + "\"");
        if (filter.limit < 0) throw Failure(2, "--limit: expected a positive number");
        auto db = open_existing(c.config);
        // The newest `limit` matches, shown oldest first (by time, then chain and seq: with a shared
        // PostgreSQL map each broker host keeps its own chain).
        struct Record {
            std::int64_t seq;
            std::string time, operation, operator_name, reason, detail, chain;
        };
        std::vector<Record> records;
        for (const std::string& chain : db->audit_chains())
            db->for_each_audit_record(chain, [&](const AuditRecord& r) {
                if (!since.empty() && r.time < since) return;
                if (!until.empty() && !(r.time < until)) return;
                if (!filter.operation.empty() && r.operation != filter.operation) return;
                if (!filter.operator_name.empty() && r.operator_name != filter.operator_name) return;
                records.push_back({r.seq, r.time, r.operation, r.operator_name, r.reason, r.detail, r.chain});
            });
        std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
            return std::tie(a.time, a.chain, a.seq) > std::tie(b.time, b.chain, b.seq);
        });
        if (filter.limit > 0 && records.size() > static_cast<std::size_t>(filter.limit)) records.resize(filter.limit);
        std::reverse(records.begin(), records.end());
        if (c.json) {
            json list = json::array();
            for (const Record& r : records) {
                json detail = json::parse(r.detail, nullptr, false);
                if (detail.is_discarded()) detail = r.detail;  // a tampered record is shown as text
                list.push_back({{"seq", r.seq},
                                {"time", r.time},
                                {"operation", r.operation},
                                {"operator", r.operator_name},
                                {"reason", r.reason},
                                {"detail", detail}});
            }
            c.out << json{{"count", records.size()}, {"records", list}}.dump(2) << "\n";
            return 0;
        }
        std::vector<std::array<std::string, 6>> table = {{"seq", "time", "operation", "operator", "reason", "detail"}};
        for (const Record& r : records)
            table.push_back({std::to_string(r.seq), r.time, r.operation, r.operator_name, r.reason.empty() ? "-" : r.reason,
                             r.detail});
        std::array<std::size_t, 6> width{};
        for (const auto& row : table)
            for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
        for (const auto& row : table) {
            for (std::size_t i = 0; i + 1 < row.size(); ++i)
                c.out << std::left << std::setw(static_cast<int>(width[i] + 2)) << row[i];
            c.out << row.back() << "\n";
        }
        c.out << records.size() << " record" << (records.size() == 1 ? "" : "s") << "\n";
        return 0;
    });
}

int broker_health(const AdminContext& c, int wait_seconds) {
    const std::string socket = c.config.broker_socket();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(wait_seconds, 0));
    std::string problem;
    while (true) {
        try {
            BrokerConnection connection(socket, std::chrono::seconds(5));
            const json reply = connection.request({{"op", "health"}});
            if (reply.is_object() && reply.value("ok", false)) {
                if (c.json) {
                    c.out << reply.dump(2) << "\n";
                } else {
                    Rows rows = {{"broker", reply.value("status", std::string("serving"))}, {"socket", socket}};
                    for (const char* key : {"pid", "patients", "uids", "requests", "uptime_seconds"})
                        if (reply.contains(key)) rows.emplace_back(key, reply[key].dump());
                    print_rows(c.out, rows);
                }
                return 0;
            }
            problem = "the broker answered without ok";
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (c.json) c.out << json{{"ok", false}, {"socket", socket}, {"error", problem}}.dump(2) << "\n";
    else c.err << "deid-keystore: no broker answers on " << socket << ": " << problem << "\n";
    return 1;
}

}  // namespace keystore
