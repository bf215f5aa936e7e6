// The broker's decision: for a batch of resolve requests, the pseudonym, date offset, new UIDs and
// hashes, each recorded (with one audit record listing the new values) in ONE transaction that
// commits before any reply leaves. Recorded and imported mappings win over derived ones.
// Mappings already known to be recorded with their derived values are answered from memory
// (RecordedSet) without a transaction; the rest go to the database as batches (one lookup of all
// unknown patients, one of all unknown UIDs, one insert of each kind for what is missing), so a
// networked store (PostgreSQL) answers a batch in a few round trips. No sockets, no threads:
// testable on its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keystore/RecordedSet.h"

namespace keystore {

class MapStore;
class KeyedDerivation;

struct ResolveRequest {
    std::string issuer;
    std::string patient_id;  // empty: one shared "no Patient ID" pseudonym per issuer
    std::vector<std::string> uids;
    std::vector<std::string> hashes;
    // The original SOP Instance UID the question is asked for. A patient not yet recorded is only
    // recorded for a question that carries one: a question without an instance adds nothing.
    std::string instance_uid;
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
    static constexpr std::size_t kDefaultPatientsInMemory = 1u << 18;
    static constexpr std::size_t kDefaultUidsInMemory = 1u << 21;
    MappingIssuer(MapStore& db, const KeyedDerivation& derivation,
                  std::size_t patients_in_memory = kDefaultPatientsInMemory,
                  std::size_t uids_in_memory = kDefaultUidsInMemory)
        : db_(db), derivation_(derivation), patients_seen_(patients_in_memory), uids_seen_(uids_in_memory) {}
    // Throws std::runtime_error when the transaction fails (nothing of the batch is then recorded).
    std::vector<ResolveResult> issue(const std::vector<ResolveRequest>& batch);

    std::int64_t new_patients() const { return new_patients_; }  // totals issued by this object
    std::int64_t new_uids() const { return new_uids_; }
    std::uint64_t batches_from_memory() const { return batches_from_memory_; }  // no transaction needed
    std::uint64_t transactions() const { return transactions_; }
    // Questions refused because they asked for a new patient without an instance.
    std::uint64_t refused_without_instance() const { return refused_without_instance_; }

private:
    MapStore& db_;
    const KeyedDerivation& derivation_;
    RecordedSet patients_seen_;
    RecordedSet uids_seen_;
    std::int64_t new_patients_ = 0;
    std::int64_t new_uids_ = 0;
    std::uint64_t batches_from_memory_ = 0;
    std::uint64_t transactions_ = 0;
    std::uint64_t refused_without_instance_ = 0;
};

}  // namespace keystore
