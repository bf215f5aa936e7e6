#include "keystore/MappingIssuer.h"

#include <ctime>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "keystore/AuditLog.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"

namespace keystore {

namespace {

// What the memory pass learnt about one request.
struct Pending {
    MacKey patient_key{};
    bool patient_known = false;  // recorded with the derived pseudonym and offset
    std::vector<MacKey> uid_keys;
    std::vector<bool> uid_known;
    bool needs_database = false;
};

}  // namespace

std::vector<ResolveResult> MappingIssuer::issue(const std::vector<ResolveRequest>& batch) {
    std::vector<ResolveResult> results(batch.size());
    std::vector<Pending> pending(batch.size());
    bool any_database = false;
    // Pass 1, memory: derive everything; what the set knows is recorded needs no database.
    for (std::size_t r = 0; r < batch.size(); ++r) {
        const ResolveRequest& q = batch[r];
        Pending& p = pending[r];
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
    auto attempt = [&](bool immediate) {
        results = from_memory;
        new_pseudonyms = nlohmann::json::array();
        new_uids = nlohmann::json::array();
        learnt_patients.clear();
        learnt_uids.clear();
        if (immediate) db_.begin_immediate();
        else db_.begin_deferred();
        try {
            for (std::size_t r = 0; r < batch.size(); ++r) {
                const ResolveRequest& q = batch[r];
                const Pending& p = pending[r];
                ResolveResult& out = results[r];
                if (!p.needs_database) {
                    out.uids.reserve(q.uids.size());
                    for (const MacKey& k : p.uid_keys) out.uids.push_back(KeyedDerivation::uid_from(k));
                    continue;
                }
                if (!p.patient_known) {
                    const std::string derived_pseudonym = KeyedDerivation::pseudonym_from(p.patient_key);
                    const int derived_offset = derivation_.date_offset_days(q.issuer, q.patient_id);
                    auto patient = db_.find_patient(q.issuer, q.patient_id);
                    if (!patient) {
                        PatientMapping m;
                        m.issuer = q.issuer;
                        m.patient_id = q.patient_id;
                        m.pseudonym = derived_pseudonym;
                        m.date_offset_days = derived_offset;
                        m.first_seen = now;
                        if (!db_.insert_patient(m)) {
                            out.error = "the patient mapping could not be recorded";
                            out.hashes.clear();
                            continue;
                        }
                        new_pseudonyms.push_back(m.pseudonym);
                        patient = std::move(m);
                    }
                    if (patient->pseudonym == derived_pseudonym && patient->date_offset_days == derived_offset)
                        learnt_patients.push_back(p.patient_key);
                    out.pseudonym = patient->pseudonym;
                    out.date_offset_days = patient->date_offset_days;
                }
                out.uids.reserve(q.uids.size());
                for (std::size_t u = 0; u < q.uids.size(); ++u) {
                    const std::string& original = q.uids[u];
                    std::string derived = KeyedDerivation::uid_from(p.uid_keys[u]);
                    if (p.uid_known[u]) {
                        out.uids.push_back(std::move(derived));
                        continue;
                    }
                    if (auto known = db_.find_uid(original)) {
                        if (*known == derived) learnt_uids.push_back(p.uid_keys[u]);
                        out.uids.push_back(std::move(*known));
                        continue;
                    }
                    UidMapping m;
                    m.original = original;
                    m.replacement = std::move(derived);
                    m.first_seen = now;
                    if (!db_.insert_uid(m)) {  // the derived UID is already the replacement of another UID
                        out.error = "replacement UID collision; import a mapping for this UID";
                        break;
                    }
                    learnt_uids.push_back(p.uid_keys[u]);
                    new_uids.push_back(m.replacement);
                    out.uids.push_back(std::move(m.replacement));
                }
                if (!out.error.empty()) {
                    out.uids.clear();
                    out.hashes.clear();
                    out.pseudonym.clear();
                }
            }
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
    return results;
}

}  // namespace keystore
