// The broker-side admin commands of deid-keystore, run against the database directly (WAL, so
// they work while the broker serves). Each returns the process exit code and writes aligned text
// (or JSON with `json`) to `out`, problems to `err`. Every one appends an audit record.
#pragma once

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
int export_csv(const AdminContext& c, const std::string& path);
int show_stats(const AdminContext& c);
int audit_verify(const AdminContext& c);

}  // namespace keystore
