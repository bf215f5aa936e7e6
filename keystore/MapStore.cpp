#include "keystore/MapStore.h"

#include <unistd.h>

#include <stdexcept>

#include "config/Config.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/PostgresMapStore.h"

namespace keystore {

std::optional<PatientMapping> MapStore::find_patient(const std::string& issuer, const std::string& patient_id) {
    auto found = find_patients({{issuer, patient_id}});
    if (found.empty()) return std::nullopt;
    return std::move(found.begin()->second);
}

bool MapStore::insert_patient(const PatientMapping& m) { return insert_patients({m}).at(0); }

std::optional<std::string> MapStore::find_uid(const std::string& original) {
    auto found = find_uids({original});
    if (found.empty()) return std::nullopt;
    return std::move(found.begin()->second);
}

bool MapStore::insert_uid(const UidMapping& m) { return insert_uids({m}).at(0); }

bool uses_postgres(const config::Config& config) { return !config.keystore.database.empty(); }

std::unique_ptr<MapStore> open_map_store(const config::Config& config, OpenMode mode) {
    if (uses_postgres(config)) return std::make_unique<PostgresMapStore>(config.keystore.database, config.keystore_dir());
    const std::string path = config.keystore_dir() + "/" + KeystoreDatabase::kFileName;
    if (mode == OpenMode::existing && access(path.c_str(), F_OK) != 0)
        throw std::runtime_error("no keystore database at " + path + " (has the broker ever run with this config?)");
    return std::make_unique<KeystoreDatabase>(
        path, mode == OpenMode::create ? KeystoreDatabase::Open::create : KeystoreDatabase::Open::existing);
}

}  // namespace keystore
