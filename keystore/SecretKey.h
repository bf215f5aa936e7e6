// The broker's secret: 32 random bytes (OpenSSL RAND_bytes) in <keystore dir>/secret.key, mode 0600,
// separate from the database. Created on first use; refused when group or others may read it.
#pragma once

#include <string>

#include "keystore/KeyedDerivation.h"

namespace keystore {

class SecretKey {
public:
    static constexpr const char* kFileName = "secret.key";
    // Reads the key file, creating it first when `create` and it does not exist. Throws std::runtime_error.
    static SecretBytes load(const std::string& keystore_dir, bool create);
};

// Creates the keystore folder (mode 0700) if needed; refuses one that group or others may access.
void prepare_keystore_dir(const std::string& keystore_dir);

}  // namespace keystore
