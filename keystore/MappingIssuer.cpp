#include "keystore/MappingIssuer.h"

#include <ctime>
#include <map>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "keystore/AuditLog.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/MapStore.h"

namespace keystore {

namespace {

// What the memory pass learnt about one request.
struct Pending {
    MacKey patient_key{};
    bool patient_known = false;  // recorded with the derived pseudonym and offset
    std::vector<MacKey> uid_keys;
    std::vector<bool> uid_known;
    bool needs_database = false;
    bool refused = false;  // a value no store can hold: answered with an error, nothing recorded
};

bool has_nul(const std::string& v) { return v.find('\0') != std::string::npos; }

bool holds_nul(const ResolveRequest& q) {
    if (has_nul(q.issuer) || has_nul(q.patient_id)) return true;
    for (const std::string& u : q.uids)
        if (has_nul(u)) return true;
    return false;
}

}  // namespace

std::vector<ResolveResult> MappingIssuer::issue(const std::vector<ResolveRequest>& batch) {
    std::vector<ResolveResult> results(batch.size());
    std::vector<Pending> pending(batch.size());
    bool any_database = false;
    // Pass 1, memory: derive everything; what the set knows is recorded needs no database.
    for (std::size_t r = 0; r < batch.size(); ++r) {
        const ResolveRequest& q = batch[r];
        Pending& p = pending[r];
        if (holds_nul(q)) {  // PostgreSQL's text cannot store it; no valid DICOM value has one
            p.refused = true;
            results[r].error = "a patient id, issuer or UID contains a NUL character";
            continue;
        }
        p.patient_key = derivation_.patient_key(q.issuer, q.patient_id);
        p.patient_known = patients_seen_.contains(p.patient_key);
        p.needs_database = !p.patient_known;
        p.uid_keys.reserve(q.uids.size());
        p.uid_known.reserve(q.uids.size());
        for (const std::string& original : q.uids) {
            p.uid_keys.push_back(derivation_.uid_key(original));
            p.uid_known.push_back(uids_seen_.contains(p.uid_keys.back()));
            if (!p.uid_known.back()) p.needs_database = true;
        }
        any_database = any_database || p.needs_database;
        ResolveResult& out = results[r];
        if (p.patient_known) {
            out.pseudonym = KeyedDerivation::pseudonym_from(p.patient_key);
            out.date_offset_days = derivation_.date_offset_days(q.issuer, q.patient_id);
        }
        out.hashes.reserve(q.hashes.size());
        for (const std::string& value : q.hashes) out.hashes.push_back(derivation_.hash(value));
    }
    if (!any_database) {
        for (std::size_t r = 0; r < batch.size(); ++r) {
            if (pending[r].refused) continue;
            results[r].uids.reserve(batch[r].uids.size());
            for (const MacKey& k : pending[r].uid_keys) results[r].uids.push_back(KeyedDerivation::uid_from(k));
        }
        ++batches_from_memory_;
        return results;
    }

    // Pass 2, database: one transaction for everything the set did not know. It starts deferred
    // (a batch of reads takes no write lock); if it cannot take the write lock because another
    // connection (`import`) wrote meanwhile, it is redone as an immediate transaction.
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    nlohmann::json new_pseudonyms, new_uids;
    std::vector<MacKey> learnt_patients, learnt_uids;  // added to the sets once committed
    const std::vector<ResolveResult> from_memory = results;
    std::vector<bool> without_instance;
    auto attempt = [&](bool immediate) {
        results = from_memory;
        new_pseudonyms = nlohmann::json::array();
        new_uids = nlohmann::json::array();
        learnt_patients.clear();
        learnt_uids.clear();
        if (immediate) db_.begin_immediate();
        else db_.begin_deferred();
        try {
            // What the database must answer, each key once (sorted: the inserts take row locks in
            // one order, so two brokers inserting overlapping batches cannot deadlock).
            std::map<PatientKey, std::size_t> patients;  // -> the first request asking
            for (std::size_t r = 0; r < batch.size(); ++r) {
                const Pending& p = pending[r];
                if (p.needs_database && !p.patient_known)
                    patients.emplace(PatientKey{batch[r].issuer, batch[r].patient_id}, r);
            }
            std::vector<PatientKey> patient_keys;
            for (const auto& e : patients) patient_keys.push_back(e.first);
            std::map<PatientKey, PatientMapping> found_patients = db_.find_patients(patient_keys);
            // A question for a patient that is not recorded, without an instance, records nothing
            // (neither the patient nor its UIDs): guessing Patient IDs cannot grow the keystore.
            without_instance.assign(batch.size(), false);
            for (std::size_t r = 0; r < batch.size(); ++r) {
                const Pending& p = pending[r];
                if (p.needs_database && !p.patient_known && batch[r].instance_uid.empty() &&
                    !found_patients.count(PatientKey{batch[r].issuer, batch[r].patient_id}))
                    without_instance[r] = true;
            }
            for (auto it = patients.begin(); it != patients.end();) {  // the first asker may be refused
                std::size_t first = batch.size();
                for (std::size_t r = it->second; r < batch.size(); ++r)
                    if (!without_instance[r] && pending[r].needs_database && !pending[r].patient_known &&
                        batch[r].issuer == it->first.first && batch[r].patient_id == it->first.second) {
                        first = r;
                        break;
                    }
                if (first == batch.size() && !found_patients.count(it->first)) it = patients.erase(it);
                else {
                    if (first != batch.size()) it->second = first;
                    ++it;
                }
            }
            std::map<std::string, std::size_t> uids;     // original -> (request, index) of the first
            std::map<std::string, std::size_t> uid_slot;
            for (std::size_t r = 0; r < batch.size(); ++r) {
                const ResolveRequest& q = batch[r];
                const Pending& p = pending[r];
                if (!p.needs_database || without_instance[r]) continue;
                for (std::size_t u = 0; u < q.uids.size(); ++u)
                    if (!p.uid_known[u]) {
                        uids.emplace(q.uids[u], r);
                        uid_slot.emplace(q.uids[u], u);
                    }
            }
            std::vector<std::string> uid_keys;
            for (const auto& e : uids) uid_keys.push_back(e.first);
            std::map<std::string, std::string> found_uids = db_.find_uids(uid_keys);

            // Record what is missing. A row another writer (a second broker, `import`) recorded
            // meanwhile is not inserted: it is read back and its value wins.
            std::vector<PatientMapping> new_patient_rows;
            for (const auto& e : patients) {
                if (found_patients.count(e.first)) continue;
                const ResolveRequest& q = batch[e.second];
                PatientMapping m;
                m.issuer = q.issuer;
                m.patient_id = q.patient_id;
                m.pseudonym = KeyedDerivation::pseudonym_from(pending[e.second].patient_key);
                m.date_offset_days = derivation_.date_offset_days(q.issuer, q.patient_id);
                m.first_seen = now;
                new_patient_rows.push_back(std::move(m));
            }
            std::vector<UidMapping> new_uid_rows;
            for (const auto& e : uids) {
                if (found_uids.count(e.first)) continue;
                const std::size_t u = uid_slot.at(e.first);
                new_uid_rows.push_back({e.first, KeyedDerivation::uid_from(pending[e.second].uid_keys[u]), now, false});
            }
            const std::vector<bool> patient_inserted = db_.insert_patients(new_patient_rows);
            const std::vector<bool> uid_inserted = db_.insert_uids(new_uid_rows);
            std::vector<PatientKey> reread_patients;
            for (std::size_t i = 0; i < new_patient_rows.size(); ++i) {
                const PatientMapping& m = new_patient_rows[i];
                if (patient_inserted[i]) {
                    new_pseudonyms.push_back(m.pseudonym);
                    found_patients.emplace(PatientKey{m.issuer, m.patient_id}, m);
                } else {
                    reread_patients.push_back({m.issuer, m.patient_id});
                }
            }
            std::vector<std::string> reread_uids;
            for (std::size_t i = 0; i < new_uid_rows.size(); ++i) {
                if (uid_inserted[i]) {
                    new_uids.push_back(new_uid_rows[i].replacement);
                    found_uids.emplace(new_uid_rows[i].original, new_uid_rows[i].replacement);
                } else {
                    reread_uids.push_back(new_uid_rows[i].original);
                }
            }
            if (!reread_patients.empty())
                for (auto& e : db_.find_patients(reread_patients)) found_patients.insert(std::move(e));
            if (!reread_uids.empty())
                for (auto& e : db_.find_uids(reread_uids)) found_uids.insert(std::move(e));

            // The answers. A UID still unknown was refused because its derived replacement is the
            // new UID of another original (a collision).
            std::set<MacKey> learnt_p, learnt_u;
            for (std::size_t r = 0; r < batch.size(); ++r) {
                const ResolveRequest& q = batch[r];
                const Pending& p = pending[r];
                ResolveResult& out = results[r];
                if (p.refused) continue;
                if (without_instance[r]) {
                    out = ResolveResult{};
                    out.error = "no instance_uid: a patient that is not recorded is only recorded for an instance";
                    continue;
                }
                if (!p.needs_database) {
                    out.uids.reserve(q.uids.size());
                    for (const MacKey& k : p.uid_keys) out.uids.push_back(KeyedDerivation::uid_from(k));
                    continue;
                }
                if (!p.patient_known) {
                    const auto it = found_patients.find(PatientKey{q.issuer, q.patient_id});
                    if (it == found_patients.end()) {
                        out.error = "the patient mapping could not be recorded";
                        out.hashes.clear();
                        continue;
                    }
                    const PatientMapping& patient = it->second;
                    if (patient.pseudonym == KeyedDerivation::pseudonym_from(p.patient_key) &&
                        patient.date_offset_days == derivation_.date_offset_days(q.issuer, q.patient_id))
                        learnt_p.insert(p.patient_key);
                    out.pseudonym = patient.pseudonym;
                    out.date_offset_days = patient.date_offset_days;
                }
                out.uids.reserve(q.uids.size());
                for (std::size_t u = 0; u < q.uids.size(); ++u) {
                    std::string derived = KeyedDerivation::uid_from(p.uid_keys[u]);
                    if (p.uid_known[u]) {
                        out.uids.push_back(std::move(derived));
                        continue;
                    }
                    const auto it = found_uids.find(q.uids[u]);
                    if (it == found_uids.end()) {
                        out.error = "replacement UID collision; import a mapping for this UID";
                        break;
                    }
                    if (it->second == derived) learnt_u.insert(p.uid_keys[u]);
                    out.uids.push_back(it->second);
                }
                if (!out.error.empty()) {
                    out.uids.clear();
                    out.hashes.clear();
                    out.pseudonym.clear();
                }
            }
            learnt_patients.assign(learnt_p.begin(), learnt_p.end());
            learnt_uids.assign(learnt_u.begin(), learnt_u.end());
            if (!new_pseudonyms.empty() || !new_uids.empty()) {
                db_.add_counts(static_cast<std::int64_t>(new_pseudonyms.size()), static_cast<std::int64_t>(new_uids.size()));
                AuditLog(db_).append("issue", "",
                                     {{"requests", batch.size()}, {"pseudonyms", new_pseudonyms}, {"uids", new_uids}});
            }
            db_.commit();
        } catch (...) {
            const bool busy = db_.last_error_was_busy();
            db_.rollback();
            if (busy && !immediate) return false;
            throw;
        }
        return true;
    };
    if (!attempt(false)) attempt(true);
    ++transactions_;
    for (const MacKey& k : learnt_patients) patients_seen_.insert(k);
    for (const MacKey& k : learnt_uids) uids_seen_.insert(k);
    new_patients_ += static_cast<std::int64_t>(new_pseudonyms.size());
    new_uids_ += static_cast<std::int64_t>(new_uids.size());
    for (bool w : without_instance) refused_without_instance_ += w ? 1 : 0;
    return results;
}

}  // namespace keystore
