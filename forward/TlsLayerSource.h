// The TLS layer of one destination with `tls` (docs/security.md, "TLS to destinations"), shared by
// its senders: each new association takes the current layer; reload() (SIGHUP) reads the files
// again, so a replaced certificate or key is used by the next association while running ones
// finish on the layer they started with. Files that do not check out keep the previous layer.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "config/Config.h"

class DcmTransportLayer;

namespace forward {

class TlsLayerSource {
public:
    // Empty for a plain destination; empty and `error` (starting with `key_path`, naming the file
    // and the reason) when its files do not check out.
    static std::shared_ptr<TlsLayerSource> make(const config::Destination& destination, const std::string& key_path,
                                                std::string& error);
    std::shared_ptr<DcmTransportLayer> current() const;
    // Builds the layer again from the files; false and `error` (the previous layer stays) when they
    // do not check out.
    bool reload(std::string& error);
    const std::string& key_path() const { return key_path_; }

private:
    TlsLayerSource(config::Destination destination, std::string key_path)
        : destination_(std::move(destination)), key_path_(std::move(key_path)) {}
    std::shared_ptr<DcmTransportLayer> build(std::string& error) const;

    config::Destination destination_;
    std::string key_path_;
    mutable std::mutex mutex_;
    std::shared_ptr<DcmTransportLayer> layer_;
};

}  // namespace forward
