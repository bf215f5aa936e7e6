// An in-memory PseudonymSource for tests: keyed (HMAC-SHA256 with a per-object secret), so the
// same input gives the same output within one object and between objects with the same key.
#pragma once

#include <string>

#include "deid/PseudonymSource.h"

namespace testsupport {

class MemoryPseudonymSource : public deid::PseudonymSource {
public:
    explicit MemoryPseudonymSource(std::string key = "test-secret-key");
    deid::PseudonymReply resolve(const deid::PseudonymRequest& request) override;

    int calls = 0;             // resolve() calls so far
    bool unavailable = false;  // true: resolve() throws PseudonymUnavailable
    deid::PseudonymRequest last_request;

    // The values resolve() gives, for assertions.
    std::string pseudonym(const std::string& issuer, const std::string& patient_id) const;
    int date_offset(const std::string& issuer, const std::string& patient_id) const;
    std::string uid(const std::string& original) const;
    std::string hash(const std::string& value) const;

private:
    std::string hmac(const std::string& domain, const std::string& value) const;  // raw 32 bytes
    std::string key_;
};

}  // namespace testsupport
