// Where pseudonyms, date offsets and replacement UIDs come from.
// The honest-broker client (keystore/BrokerClient.h) is the real implementation; tests use an
// in-memory keyed one. One call per instance: the engine collects everything it needs first.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace deid {

struct PseudonymRequest {
    std::string issuer;               // Issuer of Patient ID (or the configured default); may be empty
    std::string patient_id;           // the original Patient ID; may be empty
    std::vector<std::string> uids;    // original UIDs to replace
    std::vector<std::string> hashes;  // values a site rule asks to hash (keyed)
    std::string instance_uid;         // the original SOP Instance UID the question is asked for
};

struct PseudonymReply {
    std::string pseudonym;            // the patient's pseudonym (Patient ID and Patient Name)
    int date_offset_days = 0;         // the patient's date shift, never 0
    std::vector<std::string> uids;    // replacement UIDs ("2.25.<decimal>"), same order as the request
    std::vector<std::string> hashes;  // keyed hashes, same order as the request
};

// Thrown when the source cannot answer now (broker down, timeout). The caller keeps the instance
// and retries; it never goes on with a missing or made-up pseudonym. Messages carry no PHI.
class PseudonymUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class PseudonymSource {
public:
    virtual ~PseudonymSource() = default;
    virtual PseudonymReply resolve(const PseudonymRequest& request) = 0;
};

}  // namespace deid
