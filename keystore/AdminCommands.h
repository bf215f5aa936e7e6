// The broker-side admin commands of deid-keystore, run against the database directly (WAL, so
// they work while the broker serves). Each returns the process exit code and writes aligned text
// (or JSON with `json`) to `out`, problems to `err`. Each appends an audit record, except the
// read-only ones: stats, audit verify, audit list and health.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "config/Config.h"

namespace keystore {

struct AdminContext {
    const config::Config& config;
    bool json = false;
    std::ostream& out;
    std::ostream& err;
};

int lookup_patient(const AdminContext& c, const std::string& issuer, const std::string& patient_id);
int lookup_pseudonym(const AdminContext& c, const std::string& pseudonym);
int reidentify_pseudonym(const AdminContext& c, const std::string& pseudonym, const std::string& reason);
int reidentify_uid(const AdminContext& c, const std::string& uid, const std::string& reason);
int import_csv(const AdminContext& c, const std::string& path);
// Refuses (exit 1) when `path` exists, unless `overwrite`. The file appears whole or not at all.
int export_csv(const AdminContext& c, const std::string& path, bool overwrite = false);
int show_stats(const AdminContext& c);
int audit_verify(const AdminContext& c);

// Which audit records `audit list` shows; empty / zero fields do not filter.
struct AuditFilter {
    std::string since;      // records at or after this time: ISO 8601 (UTC) or an age such as 90m, 24h, 7d
    std::string until;      // records before this time (same forms)
    std::string operation;  // create, issue, lookup, reidentify, import or export
    std::string operator_name;
    std::int64_t limit = 0;  // the most recent N matching records; 0: all
};
// The matching records in sequence order (exit 0, also when none match; 2 for a bad filter).
int audit_list(const AdminContext& c, const AuditFilter& filter);

// Asks the broker on the config's socket for its health; with wait_seconds > 0, retries until it
// answers or the time is up. Exit 0 when it answers, 1 when it does not.
int broker_health(const AdminContext& c, int wait_seconds);

}  // namespace keystore
