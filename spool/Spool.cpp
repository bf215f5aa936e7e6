#include "spool/Spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

namespace spool {

namespace fs = std::filesystem;

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::string hex_encode(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string hex_decode(const std::string& s) {
    std::string out;
    for (size_t i = 0; i + 1 < s.size(); i += 2) out += static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16));
    return out;
}

std::uint64_t size_of_tree(const std::string& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        std::error_code ec2;
        if (it->is_regular_file(ec2)) total += it->file_size(ec2);
    }
    return total;
}

std::uint64_t file_size_or_zero(const std::string& path) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    return ec ? 0 : size;
}

}  // namespace

bool fsync_path(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return ok;
}

bool fdatasync_path(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fdatasync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return ok;
}

std::string iso_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

Spool::Spool(std::string root, config::Spool limits)
    : root_(std::move(root)), limits_(limits), incoming_sync_(std::make_unique<DirectorySync>(root_ + "/incoming")) {}

std::error_code Spool::prepare(const std::vector<std::string>& destinations) {
    std::error_code ec;
    // The spool holds received originals (PHI): owner only, whatever the umask.
    fs::create_directories(root_, ec);
    if (ec) return ec;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return ec;
    for (const std::string& dir : {tmp_dir(), incoming_dir(), quarantine_dir()}) {
        fs::create_directories(dir, ec);
        if (ec) return ec;
    }
    for (const auto& d : destinations) {
        fs::create_directories(outgoing_dir(d), ec);
        if (ec) return ec;
    }
    // Nothing in tmp/ was acknowledged: partial receptions and de-identification output.
    for (auto& e : fs::directory_iterator(tmp_dir(), ec)) fs::remove_all(e.path(), ec);
    fs::create_directories(free_dir(), ec);
    if (ec) return ec;
    fs::create_directories(free_out_dir(), ec);
    if (ec) return ec;
    {
        std::lock_guard<std::mutex> lock(free_mutex_);
        free_files_.clear();
        free_bytes_ = 0;
        pending_outputs_.clear();
        free_outputs_.clear();
        destinations_ = destinations;
    }
    // Outgoing copies of instances still in incoming/ were never synced: a crash may have left them
    // empty or torn. They are dropped; the instance is de-identified again (same result).
    std::set<std::string> pending;
    for (const auto& entry : list_incoming()) pending.insert(entry.id);
    for (const auto& d : destinations)
        for (const auto& id : list_outgoing(d))
            if (pending.count(id)) ::unlink(outgoing_path(d, id).c_str());
    bytes_ = size_of_tree(incoming_dir()) + size_of_tree(root_ + "/outgoing");
    return {};
}

std::string Spool::new_id() {
    using namespace std::chrono;
    static thread_local std::mt19937 rng{std::random_device{}()};
    const long long ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%013lld-%06llu-%04x", ms, static_cast<unsigned long long>(++seq_ % 1000000),
                  static_cast<unsigned>(rng() & 0xffff));
    return buf;
}

std::int64_t Spool::received_ms(const std::string& id) {
    try {
        return std::stoll(id.substr(0, id.find('-')));
    } catch (...) {
        return 0;
    }
}

std::string Spool::incoming_path(const SpoolEntry& entry) const {
    return incoming_dir() + "/" + entry.id + "_" + hex_encode(entry.calling_ae) + ".dcm";
}

std::string Spool::outgoing_path(const std::string& destination, const std::string& id) const {
    return outgoing_dir(destination) + "/" + id + ".dcm";
}

bool Spool::has_room(std::uint64_t bytes, std::string* why) const {
    if (bytes_.load() + bytes > limits_.max_bytes) {
        if (why) *why = "spool over spool.max_bytes (" + std::to_string(bytes_.load()) + " bytes held)";
        return false;
    }
    struct statvfs st {};
    if (statvfs(root_.c_str(), &st) == 0) {
        const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
        if (free_bytes < limits_.min_free_bytes + bytes) {
            if (why) *why = "free disk space below spool.min_free_bytes (" + std::to_string(free_bytes) + " bytes free)";
            return false;
        }
    }
    return true;
}

std::error_code Spool::accept_incoming(const std::string& received_file, const SpoolEntry& entry, std::uint64_t size,
                                       int received_fd) {
    // received_fd, when given, is open on received_file: sync through it instead of opening it again.
    if (received_fd >= 0 ? ::fdatasync(received_fd) != 0 : !fdatasync_path(received_file)) return last_error();
    const std::string target = incoming_path(entry);
    if (::rename(received_file.c_str(), target.c_str()) != 0) return last_error();
    if (!incoming_sync_->sync()) {
        const auto ec = last_error();
        ::unlink(target.c_str());
        return ec;
    }
    bytes_ += size;
    return {};
}

std::error_code Spool::add_outgoing(const std::string& file, const std::string& destination, const std::string& id) {
    const std::string target = outgoing_path(destination, id);
    const std::string staging = tmp_dir() + "/" + id + "." + destination + ".link";
    ::unlink(staging.c_str());
    if (::link(file.c_str(), staging.c_str()) != 0) {
        std::error_code ec;
        fs::copy_file(file, staging, fs::copy_options::overwrite_existing, ec);
        if (ec) return ec;
    }
    if (::rename(staging.c_str(), target.c_str()) != 0) {
        const auto ec = last_error();
        ::unlink(staging.c_str());
        return ec;
    }
    bytes_ += file_size_or_zero(target);
    return {};
}

std::error_code Spool::move_outgoing(const std::string& file, const std::string& destination, const std::string& id) {
    const std::string target = outgoing_path(destination, id);
    if (::rename(file.c_str(), target.c_str()) != 0) return last_error();
    bytes_ += file_size_or_zero(target);
    return {};
}

bool Spool::has_incoming(const SpoolEntry& entry) const { return ::access(incoming_path(entry).c_str(), F_OK) == 0; }

void Spool::remove_incoming(const SpoolEntry& entry) {
    const std::string path = incoming_path(entry);
    const auto size = file_size_or_zero(path);
    if (discard(path)) bytes_ -= std::min<std::uint64_t>(size, bytes_.load());
}

void Spool::remove_outgoing(const std::string& destination, const std::string& id) {
    const std::string path = outgoing_path(destination, id);
    const auto size = file_size_or_zero(path);
    // Never recycled for receptions (a stale outgoing entry after a crash could point at the reused
    // inode, now holding a received original). Recycled for de-identification outputs only after
    // the removal is durable: see reuse_output_file_for().
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_nlink == 1) {  // the last destination's link
        std::vector<std::string> batch;
        bool moved = false;
        {
            std::lock_guard<std::mutex> lock(free_mutex_);
            if (pending_outputs_.size() + free_outputs_.size() < kMaxFreeOutputs) {
                const std::string name = free_out_dir() + "/" + std::to_string(++free_seq_);
                if (::rename(path.c_str(), name.c_str()) == 0) {
                    moved = true;
                    pending_outputs_.push_back(name);
                    if (pending_outputs_.size() >= kOutputSyncBatch) batch.swap(pending_outputs_);
                }
            }
        }
        if (moved) {
            bytes_ -= std::min<std::uint64_t>(size, bytes_.load());
            if (!batch.empty()) {
                // Every outgoing folder: the other destinations' links went before this one. The
                // fsyncs started after the renames above, so they make these removals durable.
                bool synced = true;
                for (const auto& d : destinations_) synced = fsync_path(outgoing_dir(d)) && synced;
                std::lock_guard<std::mutex> lock(free_mutex_);
                for (auto& name : batch) {
                    if (synced) free_outputs_.push_back(std::move(name));
                    else ::unlink(name.c_str());
                }
            }
            return;
        }
    }
    if (::unlink(path.c_str()) == 0) bytes_ -= std::min<std::uint64_t>(size, bytes_.load());
}

void Spool::reuse_output_file_for(const std::string& path) {
    std::string name;
    {
        std::lock_guard<std::mutex> lock(free_mutex_);
        if (free_outputs_.empty()) return;
        name = std::move(free_outputs_.back());
        free_outputs_.pop_back();
    }
    if (::rename(name.c_str(), path.c_str()) != 0) ::unlink(name.c_str());
}

bool Spool::discard(const std::string& path) {
    struct stat st {};
    // A hard link shared with another queue is never reused; a large file is not kept.
    const bool reusable = ::stat(path.c_str(), &st) == 0 && st.st_nlink == 1;
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (reusable && size <= kMaxFreeFileBytes) {
        std::lock_guard<std::mutex> lock(free_mutex_);
        if (free_files_.size() < kMaxFreeFiles && free_bytes_ + size <= kMaxFreeBytes) {
            const std::string name = free_dir() + "/" + std::to_string(++free_seq_);
            if (::rename(path.c_str(), name.c_str()) == 0) {
                // Kept with its blocks: the next reception writes over them and cuts the file to
                // its own length (dimse::StoreScp). Emptying it here would free every block, and
                // with the `discard` mount option each freed block is a discard request that
                // slows down the receptions' fdatasync (docs/operations.md, Durability 4, Throughput).
                free_files_.push_back({name, size});
                free_bytes_ += size;
                return true;
            }
        }
    }
    return ::unlink(path.c_str()) == 0;
}

void Spool::reuse_file_for(const std::string& path) {
    std::string name;
    {
        std::lock_guard<std::mutex> lock(free_mutex_);
        if (free_files_.empty()) return;
        name = std::move(free_files_.back().first);
        free_bytes_ -= free_files_.back().second;
        free_files_.pop_back();
    }
    if (::rename(name.c_str(), path.c_str()) != 0) ::unlink(name.c_str());
}

std::error_code Spool::quarantine(const std::string& file, QuarantineRecord record) {
    std::error_code ec;
    const std::string folder = quarantine_dir() + "/" + record.reason + "/" + record.id;
    fs::create_directories(folder, ec);
    if (ec) return ec;
    record.quarantined_at = iso_now();
    nlohmann::json j = {{"id", record.id},
                        {"reason", record.reason},
                        {"detail", record.detail},
                        {"stage", record.stage},
                        {"destination", record.destination},
                        {"calling_ae", record.calling_ae},
                        {"quarantined_at", record.quarantined_at},
                        {"attempts", record.attempts},
                        {"file", "instance.dcm"}};
    {
        std::ofstream out(folder + "/reason.json.tmp");
        out << j.dump(2) << "\n";
        if (!out) return std::make_error_code(std::errc::io_error);
    }
    fsync_path(folder + "/reason.json.tmp");
    fs::rename(folder + "/reason.json.tmp", folder + "/reason.json", ec);
    if (ec) return ec;
    const auto size = file_size_or_zero(file);
    const bool counted = file.rfind(incoming_dir(), 0) == 0 || file.rfind(root_ + "/outgoing/", 0) == 0;
    // Outgoing copies are not synced, and a quarantined file may be the only copy left.
    if (!fdatasync_path(file)) return last_error();
    fs::rename(file, folder + "/instance.dcm", ec);
    if (ec) return ec;
    if (counted) bytes_ -= std::min<std::uint64_t>(size, bytes_.load());
    if (!fsync_path(folder) || !fsync_path(fs::path(folder).parent_path().string()) || !fsync_path(quarantine_dir()))
        return last_error();
    return {};
}

std::vector<QuarantineRecord> Spool::quarantined() const {
    std::vector<QuarantineRecord> out;
    std::error_code ec;
    for (auto& reason_dir : fs::directory_iterator(quarantine_dir(), ec)) {
        if (!reason_dir.is_directory()) continue;
        for (auto& item : fs::directory_iterator(reason_dir.path(), ec)) {
            if (!item.is_directory()) continue;
            QuarantineRecord r;
            r.id = item.path().filename().string();
            r.reason = reason_dir.path().filename().string();
            r.folder = item.path().string();
            std::ifstream in(item.path() / "reason.json");
            try {
                nlohmann::json j = nlohmann::json::parse(in);
                r.detail = j.value("detail", "");
                r.stage = j.value("stage", "");
                r.destination = j.value("destination", "");
                r.calling_ae = j.value("calling_ae", "");
                r.quarantined_at = j.value("quarantined_at", "");
                r.attempts = j.value("attempts", 0);
            } catch (const std::exception&) {
                r.detail = "(reason.json unreadable)";
            }
            out.push_back(std::move(r));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

std::optional<QuarantineRecord> Spool::find_quarantined(const std::string& id) const {
    for (auto& r : quarantined())
        if (r.id == id) return r;
    return std::nullopt;
}

std::error_code Spool::replay(const QuarantineRecord& record) {
    std::error_code ec;
    const std::string file = record.folder + "/instance.dcm";
    std::string target;
    if (record.stage == "forward") {
        if (record.destination.empty()) return std::make_error_code(std::errc::invalid_argument);
        fs::create_directories(outgoing_dir(record.destination), ec);
        target = outgoing_path(record.destination, record.id);
    } else {
        target = incoming_path(SpoolEntry{record.id, record.calling_ae});
    }
    const auto size = file_size_or_zero(file);
    fs::rename(file, target, ec);
    if (ec) return ec;
    fsync_path(fs::path(target).parent_path().string());
    bytes_ += size;
    fs::remove_all(record.folder, ec);
    return ec;
}

std::error_code Spool::purge(const QuarantineRecord& record) {
    std::error_code ec;
    fs::remove_all(record.folder, ec);
    return ec;
}

std::vector<SpoolEntry> Spool::list_incoming() const {
    std::vector<SpoolEntry> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(incoming_dir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() < 5 || name.substr(name.size() - 4) != ".dcm") continue;
        const std::string stem = name.substr(0, name.size() - 4);
        const auto underscore = stem.find('_');
        SpoolEntry entry;
        entry.id = stem.substr(0, underscore);
        if (underscore != std::string::npos) entry.calling_ae = hex_decode(stem.substr(underscore + 1));
        out.push_back(std::move(entry));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

std::vector<std::string> Spool::list_outgoing(const std::string& destination) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(outgoing_dir(destination), ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() > 4 && name.substr(name.size() - 4) == ".dcm") out.push_back(name.substr(0, name.size() - 4));
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace spool
