#include "keystore/MappingIssuer.h"

#include <ctime>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "keystore/AuditLog.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"

namespace keystore {

std::vector<ResolveResult> MappingIssuer::issue(const std::vector<ResolveRequest>& batch) {
    std::vector<ResolveResult> results(batch.size());
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    nlohmann::json new_pseudonyms = nlohmann::json::array(), new_uids = nlohmann::json::array();
    db_.begin_immediate();
    try {
        for (std::size_t r = 0; r < batch.size(); ++r) {
            const ResolveRequest& q = batch[r];
            ResolveResult& out = results[r];
            auto patient = db_.find_patient(q.issuer, q.patient_id);
            if (!patient) {
                PatientMapping m;
                m.issuer = q.issuer;
                m.patient_id = q.patient_id;
                m.pseudonym = derivation_.pseudonym(q.issuer, q.patient_id);
                m.date_offset_days = derivation_.date_offset_days(q.issuer, q.patient_id);
                m.first_seen = now;
                if (!db_.insert_patient(m)) {
                    out.error = "the patient mapping could not be recorded";
                    continue;
                }
                new_pseudonyms.push_back(m.pseudonym);
                patient = std::move(m);
            }
            out.pseudonym = patient->pseudonym;
            out.date_offset_days = patient->date_offset_days;
            out.uids.reserve(q.uids.size());
            for (const std::string& original : q.uids) {
                if (auto known = db_.find_uid(original)) {
                    out.uids.push_back(std::move(*known));
                    continue;
                }
                UidMapping m;
                m.original = original;
                m.replacement = derivation_.uid(original);
                m.first_seen = now;
                if (!db_.insert_uid(m)) {  // the derived UID is already the replacement of another UID
                    out.error = "replacement UID collision; import a mapping for this UID";
                    break;
                }
                new_uids.push_back(m.replacement);
                out.uids.push_back(std::move(m.replacement));
            }
            if (!out.error.empty()) {
                out.uids.clear();
                continue;
            }
            out.hashes.reserve(q.hashes.size());
            for (const std::string& value : q.hashes) out.hashes.push_back(derivation_.hash(value));
        }
        if (!new_pseudonyms.empty() || !new_uids.empty()) {
            db_.add_counts(static_cast<std::int64_t>(new_pseudonyms.size()), static_cast<std::int64_t>(new_uids.size()));
            AuditLog(db_).append("issue", "",
                                 {{"requests", batch.size()}, {"pseudonyms", new_pseudonyms}, {"uids", new_uids}});
        }
        db_.commit();
    } catch (...) {
        db_.rollback();
        throw;
    }
    new_patients_ += static_cast<std::int64_t>(new_pseudonyms.size());
    new_uids_ += static_cast<std::int64_t>(new_uids.size());
    return results;
}

}  // namespace keystore
