// deid-gateway scrub --out DIR INPUT...: de-identifies files and folders (recursively) into DIR,
// one file per instance named by its new SOP Instance UID. Pseudonyms come from the keystore
// broker (started as a child unless keystore.socket names an external one).
// Inputs are processed by config.workers threads, one InstanceDeidentifier each. Outputs are
// written atomically (temp file, rename) without a sync per file; the output folder's file system
// is synced once (syncfs) before the summary line, so "scrubbed N" means N durable files.
// Two inputs with the same SOP Instance UID would give the same output name: the first in input
// order is kept, the other is reported as `failed: ... duplicate-sop-instance-uid` and not
// written. On a terminal, stderr shows progress; the summary counts outcomes and failure reasons.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

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

// Makes every file written so far under `dir` durable: one syncfs() of its file system (data,
// inodes and the folder entries of the renames), then an fsync of the folder itself.
bool sync_output(const std::string& dir, std::string& error) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        error = std::strerror(errno);
        return false;
    }
    bool ok = ::syncfs(fd) == 0 && ::fsync(fd) == 0;
    if (!ok) error = std::strerror(errno);
    ::close(fd);
    return ok;
}

}  // namespace

int run_scrub(const config::Config& config, const std::string& out_dir, const std::vector<std::string>& inputs) {
    // DCMTK's own messages (parser warnings and errors: odd lengths, repaired VRs, truncation,
    // unsupported character sets) only at debug level: what matters for an input is reported in
    // its `failed:` line, and a parse error message may quote raw bytes of the file as a "tag".
    OFLog::configure(config.log.level == "debug" ? OFLogger::WARN_LOG_LEVEL : OFLogger::FATAL_LOG_LEVEL);
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

    // One InstanceDeidentifier per thread (it holds the pixel cleaner's state); the broker client
    // is shared (thread-safe).
    const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(
        static_cast<std::size_t>(std::max(1, config.workers)), files.size()));
    std::vector<std::unique_ptr<deid::InstanceDeidentifier>> deidentifiers;
    for (std::size_t t = 0; t < threads; ++t) {
        deidentifiers.push_back(std::make_unique<deid::InstanceDeidentifier>(config, *client));
        deidentifiers.back()->set_durable_writes(false);  // synced once below
    }
    std::atomic<std::size_t> next{0};
    std::mutex report_mutex;  // counters, claimed outputs and stderr lines
    std::map<std::string, int> failed_by_reason;
    std::map<std::string, std::size_t> claimed;  // output SOP Instance UID -> index of the input kept
    // Progress on a terminal only: one line rewritten at most every 200 ms.
    const bool progress = ::isatty(STDERR_FILENO) == 1;
    std::size_t done = 0;
    auto last_progress = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    auto show_progress = [&](bool force) {  // under report_mutex
        const auto now = std::chrono::steady_clock::now();
        if (!progress || (!force && now - last_progress < std::chrono::milliseconds(200))) return;
        last_progress = now;
        std::cerr << "\r\033[K" << done << "/" << files.size() << " (scrubbed " << scrubbed << ", rejected "
                  << rejected << ", failed " << failed << ")" << std::flush;
    };
    auto work = [&](deid::InstanceDeidentifier& deidentifier) {
        std::error_code wec;
        for (std::size_t i = next++; i < files.size(); i = next++) {
            const std::string& file = files[i];
            const std::string partial = (out_abs / (".scrub-" + std::to_string(i) + ".partial")).string();
            const deid::Outcome o = deidentifier.process_file(file, partial);
            std::string line, reason;
            std::lock_guard<std::mutex> lock(report_mutex);
            switch (o.kind) {
                case deid::Outcome::Kind::Clean: {
                    const fs::path final_path = out_abs / (o.sop_instance_uid + ".dcm");
                    const auto it = claimed.find(o.sop_instance_uid);
                    if (it != claimed.end() && it->second < i) {
                        // An earlier input has this SOP Instance UID: its output stays.
                        fs::remove(partial, wec);
                        reason = "duplicate-sop-instance-uid";
                        line = "failed: " + file + ": " + reason + ": the same SOP Instance UID as " + files[it->second] +
                               " (kept as " + final_path.filename().string() + "); not written\n";
                        break;
                    }
                    fs::rename(partial, final_path, wec);
                    if (wec) {
                        fs::remove(partial, wec);
                        reason = "cannot-write";
                        line = "failed: " + file + ": cannot move the output into place\n";
                        break;
                    }
                    if (it != claimed.end()) {
                        // A later input got there first: this one replaces its output.
                        ++failed_by_reason["duplicate-sop-instance-uid"];
                        ++failed;
                        --scrubbed;
                        std::cerr << (progress ? "\r\033[K" : "") << "failed: " << files[it->second]
                                  << ": duplicate-sop-instance-uid: the same SOP Instance UID as " << file << " (kept as "
                                  << final_path.filename().string() << "); not written\n";
                    }
                    claimed[o.sop_instance_uid] = i;
                    ++scrubbed;
                    break;
                }
                case deid::Outcome::Kind::Rejected:
                    line = "rejected: " + file + ": " + o.detail + "\n";
                    ++rejected;
                    break;
                case deid::Outcome::Kind::Quarantined:
                case deid::Outcome::Kind::Retry:
                    reason = o.reason.empty() ? "unknown" : o.reason;
                    line = "failed: " + file + ": " + o.reason + ": " + o.detail + "\n";
                    break;
            }
            if (!reason.empty()) {
                ++failed;
                ++failed_by_reason[reason];
            }
            ++done;
            if (!line.empty()) std::cerr << (progress ? "\r\033[K" : "") << line << std::flush;
            show_progress(false);
        }
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(*deidentifiers[t]));
    work(*deidentifiers[0]);
    for (std::thread& t : pool) t.join();
    if (progress) {
        show_progress(true);
        std::cerr << "\n";
    }

    std::string sync_error;
    if (scrubbed > 0 && !sync_output(out_abs.string(), sync_error)) {
        std::cerr << "deid-gateway scrub: cannot sync the output folder to disk: " << sync_error << "\n";
        failed += scrubbed;
        scrubbed = 0;
    }
    // Failures by reason, for those with a reason (not the inputs that could not be read at all).
    std::string reasons;
    for (const auto& [why, n] : failed_by_reason) reasons += (reasons.empty() ? "" : ", ") + why + " " + std::to_string(n);
    std::cout << "scrubbed " << scrubbed << ", rejected " << rejected << ", failed " << failed
              << (reasons.empty() ? "" : " (" + reasons + ")") << "\n";
    return failed ? 1 : 0;
}

}  // namespace gateway
