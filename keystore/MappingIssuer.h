// The broker's decision: for a batch of resolve requests, the pseudonym, date offset, new UIDs and
// hashes, each recorded (with one audit record listing the new values) in ONE transaction that
// commits before any reply leaves. Recorded and imported mappings win over derived ones.
// No sockets, no threads: testable on its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace keystore {

class KeystoreDatabase;
class KeyedDerivation;

struct ResolveRequest {
    std::string issuer;
    std::string patient_id;  // empty: one shared "no Patient ID" pseudonym per issuer
    std::vector<std::string> uids;
    std::vector<std::string> hashes;
};

struct ResolveResult {
    std::string error;  // empty = ok; never contains a request value
    std::string pseudonym;
    int date_offset_days = 0;
    std::vector<std::string> uids;
    std::vector<std::string> hashes;
};

class MappingIssuer {
public:
    MappingIssuer(KeystoreDatabase& db, const KeyedDerivation& derivation) : db_(db), derivation_(derivation) {}
    // Throws std::runtime_error when the transaction fails (nothing of the batch is then recorded).
    std::vector<ResolveResult> issue(const std::vector<ResolveRequest>& batch);

    std::int64_t new_patients() const { return new_patients_; }  // totals issued by this object
    std::int64_t new_uids() const { return new_uids_; }

private:
    KeystoreDatabase& db_;
    const KeyedDerivation& derivation_;
    std::int64_t new_patients_ = 0;
    std::int64_t new_uids_ = 0;
};

}  // namespace keystore
