// deid-gateway scrub --out DIR INPUT...: de-identifies files and folders (recursively) into DIR,
// one file per instance named by its new SOP Instance UID. Pseudonyms come from the keystore
// broker (started as a child unless keystore.socket names an external one).
#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "deid/InstanceDeidentifier.h"
#include "gateway/Commands.h"
#include "keystore/BrokerClient.h"
#include "keystore/BrokerProcess.h"

namespace fs = std::filesystem;

namespace gateway {

namespace {

bool inside(const fs::path& path, const fs::path& dir) {
    auto p = path.begin();
    for (auto d = dir.begin(); d != dir.end(); ++d, ++p)
        if (p == path.end() || *p != *d) return false;
    return true;
}

}  // namespace

int run_scrub(const config::Config& config, const std::string& out_dir, const std::vector<std::string>& inputs) {
    if (out_dir.empty()) {
        std::cerr << "deid-gateway scrub: --out DIR is required\n";
        return 2;
    }
    if (inputs.empty()) {
        std::cerr << "deid-gateway scrub: no INPUT given (files or folders)\n";
        return 2;
    }
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec || !fs::is_directory(out_dir)) {
        std::cerr << "deid-gateway scrub: cannot create output folder " << out_dir << ": " << ec.message() << "\n";
        return 1;
    }
    const fs::path out_abs = fs::weakly_canonical(out_dir);

    // Every input file, folders walked recursively (sorted, so runs are reproducible).
    std::vector<std::string> files;
    int failed = 0, scrubbed = 0, rejected = 0;
    for (const std::string& input : inputs) {
        if (fs::is_directory(input, ec)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (!it->is_regular_file(ec)) continue;
                if (inside(fs::weakly_canonical(it->path()), out_abs)) continue;  // never re-read our output
                if (it->path().filename() == "DICOMDIR") continue;               // a media index, not an instance
                found.push_back(it->path().string());
            }
            if (ec) {
                std::cerr << "failed: " << input << ": cannot read folder: " << ec.message() << "\n";
                ++failed;
                ec.clear();
            }
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::is_regular_file(input, ec)) {
            files.push_back(input);
        } else {
            std::cerr << "failed: " << input << ": no such file or folder\n";
            ++failed;
        }
    }

    std::unique_ptr<keystore::BrokerProcess> broker;
    std::unique_ptr<keystore::BrokerClient> client;
    try {
        broker = std::make_unique<keystore::BrokerProcess>(config);
        client = std::make_unique<keystore::BrokerClient>(broker->socket_path());
    } catch (const std::exception& e) {
        std::cerr << "deid-gateway scrub: the keystore broker is not available: " << e.what() << "\n"
                  << "scrubbed 0, rejected 0, failed " << (failed + static_cast<int>(files.size())) << "\n";
        return 1;
    }

    deid::InstanceDeidentifier deidentifier(config, *client);
    int n = 0;
    for (const std::string& file : files) {
        const std::string partial = (out_abs / (".scrub-" + std::to_string(n++) + ".partial")).string();
        const deid::Outcome o = deidentifier.process_file(file, partial);
        switch (o.kind) {
            case deid::Outcome::Kind::Clean: {
                const fs::path final_path = out_abs / (o.sop_instance_uid + ".dcm");
                fs::rename(partial, final_path, ec);
                if (ec) {
                    fs::remove(partial, ec);
                    std::cerr << "failed: " << file << ": cannot move the output into place\n";
                    ++failed;
                } else {
                    ++scrubbed;
                }
                break;
            }
            case deid::Outcome::Kind::Rejected:
                std::cerr << "rejected: " << file << ": " << o.detail << "\n";
                ++rejected;
                break;
            case deid::Outcome::Kind::Quarantined:
                std::cerr << "failed: " << file << ": " << o.reason << ": " << o.detail << "\n";
                ++failed;
                break;
            case deid::Outcome::Kind::Retry:
                std::cerr << "failed: " << file << ": " << o.reason << ": " << o.detail << "\n";
                ++failed;
                break;
        }
    }
    std::cout << "scrubbed " << scrubbed << ", rejected " << rejected << ", failed " << failed << "\n";
    return failed ? 1 : 0;
}

}  // namespace gateway
