#include "spool/Spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/IsoTime.h"
#include "common/WriteAll.h"

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

// Writes `bytes` to `path` over whatever file is there (a recycled one keeps its blocks), cut to
// their length, not synced. The descriptor is closed, or, with `keep_open`, left open there.
std::error_code write_over(const std::string& path, const std::string& bytes, int* keep_open = nullptr) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return last_error();
    std::error_code ec;
    if (!common::write_all(fd, bytes.data(), bytes.size()) || ::ftruncate(fd, static_cast<off_t>(bytes.size())) != 0)
        ec = last_error();
    if (!ec && keep_open) {
        *keep_open = fd;
        return ec;
    }
    if (::close(fd) != 0 && !ec) ec = last_error();
    return ec;
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

Spool::Spool(std::string root, config::Spool limits)
    : root_(std::move(root)), limits_(limits), incoming_sync_(std::make_unique<DirectorySync>(root_ + "/incoming")) {}

Spool::~Spool() { journal_.reset(); }

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
        free_out_bytes_ = 0;
        pending_outputs_.clear();
        free_outputs_.clear();
        destinations_ = destinations;
    }
    if (const auto jec = recover_journal()) return jec;
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

std::error_code Spool::recover_journal() {
    journal_.reset();
    journal_restored_ = 0;
    {
        std::lock_guard<std::mutex> lock(journal_mutex_);
        journaled_.clear();
    }
    if (limits_.journal_bytes == 0) return {};
    journal_unavailable_.clear();
    journal_ = std::make_unique<ReceptionJournal>(root_ + "/journal", limits_.journal_bytes);
    std::vector<ReceptionJournal::Record> pending;
    if (const auto ec = journal_->open(pending)) return ec;  // its records could not be read: nothing starts
    // Each record answered Success and not finished: its incoming/ file must hold exactly its
    // bytes. A file lost or torn in a crash (it was renamed, never synced) is written again.
    for (const auto& record : pending) {
        InstanceRecord entry;
        entry.id = record.id;
        entry.calling_ae = record.calling_ae;
        const std::string target = incoming_path(entry);
        {
            std::ifstream in(target, std::ios::binary);
            std::string held((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (in.good() || in.eof())
                if (held == record.data) continue;
        }
        const std::string staging = tmp_dir() + "/" + record.id + ".restore";
        const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return last_error();
        const bool written = common::write_all(fd, record.data.data(), record.data.size());
        const int err = errno;
        ::close(fd);
        if (!written) return {err, std::generic_category()};
        if (::rename(staging.c_str(), target.c_str()) != 0) return last_error();
        ++journal_restored_;
    }
    // The restored files, and every file the journal's last records were renamed to, durable
    // before the journal starts afresh (and forgets those records).
    const int dir = ::open(incoming_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return last_error();
    const bool synced = ::syncfs(dir) == 0 && ::fsync(dir) == 0;
    const int err = errno;
    ::close(dir);
    if (!synced) return {err, std::generic_category()};
    journal_->on_checkpoint([this](std::uint32_t region) { return make_incoming_files(region); });
    if (const auto ec = journal_->start()) {
        // Nothing it held is lost (read and made durable above): the spool runs as without one.
        journal_.reset();
        journal_unavailable_ = ec;
    }
    return {};
}

void Spool::journal_done(const std::string& id, bool durable) {
    if (!journal_) return;
    ReceptionJournal::Place place;
    {
        std::lock_guard<std::mutex> lock(journal_mutex_);
        auto it = journaled_.find(id);
        if (it == journaled_.end()) return;  // restored at start-up, replayed, or made durable without a record
        place = it->second.place;
        journaled_.erase(it);
    }
    journal_->done(place, durable);
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

const char* stage_name(Stage stage) {
    switch (stage) {
        case Stage::receive: return "receive";
        case Stage::deidentify: return "deidentify";
        case Stage::forward: return "forward";
    }
    return "receive";
}

namespace {
Stage stage_from(const std::string& name) {
    if (name == "deidentify") return Stage::deidentify;
    if (name == "forward") return Stage::forward;
    return Stage::receive;
}
}  // namespace

std::string Spool::incoming_path(const InstanceRecord& entry) const {
    return incoming_dir() + "/" + entry.id + "_" + hex_encode(entry.calling_ae) + ".dcm";
}

std::string Spool::outgoing_path(const std::string& destination, const std::string& id) const {
    return outgoing_dir(destination) + "/" + id + ".dcm";
}

bool Spool::has_room(std::uint64_t bytes, std::string* why) {
    for (int pass = 0; pass < 2; ++pass) {
        // Recycled files hold disk like instances do (on the first pass): given back rather than refuse.
        const std::uint64_t recycled = pass == 0 ? recycled_bytes() : 0;
        if (bytes_.load() + recycled + bytes > limits_.max_bytes) {
            if (recycled) {
                release_recycled();
                continue;
            }
            if (why) *why = "spool over spool.max_bytes (" + std::to_string(bytes_.load()) + " bytes held)";
            return false;
        }
        struct statvfs st {};
        if (statvfs(root_.c_str(), &st) == 0) {
            const std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
            if (free_bytes < limits_.min_free_bytes + bytes) {
                if (recycled) {
                    release_recycled();
                    continue;
                }
                if (why) *why = "free disk space below spool.min_free_bytes (" + std::to_string(free_bytes) + " bytes free)";
                return false;
            }
        }
        return true;
    }
    return true;
}

std::uint64_t Spool::recycled_bytes() const {
    std::lock_guard<std::mutex> lock(free_mutex_);
    return free_bytes_ + free_out_bytes_;
}

void Spool::release_recycled() {
    std::vector<std::string> names;
    {
        std::lock_guard<std::mutex> lock(free_mutex_);
        for (auto& f : free_files_) names.push_back(std::move(f.first));
        for (auto& f : free_outputs_) names.push_back(std::move(f.first));
        free_files_.clear();
        free_outputs_.clear();
        free_bytes_ = 0;
        free_out_bytes_ = 0;
        // pending_outputs_ wait for their folder sync; they are few (< kOutputSyncBatch) and stay.
        for (const auto& f : pending_outputs_) free_out_bytes_ += f.second;
    }
    for (const auto& n : names) ::unlink(n.c_str());
}

std::error_code Spool::accept_incoming(const std::string& received_file, const InstanceRecord& entry, std::uint64_t size,
                                       int received_fd, const std::string* received_data) {
    if (received_data) {
        // Received into memory: with room in the journal, its record is the instance's only copy
        // until a stage needs a file or the record's region is checkpointed (make_incoming_file).
        if (journal_ && received_data->size() <= journal_->max_record_bytes()) {
            ReceptionJournal::Place place;
            std::error_code ec;
            const auto held = [&](const ReceptionJournal::Place& p) {
                std::lock_guard<std::mutex> lock(journal_mutex_);
                journaled_[entry.id] = Journaled{p, entry.calling_ae, received_data->size(), false};
            };
            switch (journal_->append(entry.id, entry.calling_ae, *received_data, place, ec, held)) {
                case ReceptionJournal::Append::durable:
                    ++durable_by_journal_;
                    bytes_ += received_data->size();
                    active_ = true;
                    return {};
                case ReceptionJournal::Append::failed: return ec;
                case ReceptionJournal::Append::no_room: break;  // its own file, made durable below
            }
        }
        reuse_file_for(received_file);
        int fd = -1;
        auto ec = write_over(received_file, *received_data, &fd);
        if (!ec) {
            ec = accept_file(received_file, incoming_path(entry), received_data->size(), fd);
            ::close(fd);
        }
        if (ec) ::unlink(received_file.c_str());
        return ec;
    }
    const std::string target = incoming_path(entry);
    if (journal_ && received_fd >= 0 && size <= journal_->max_record_bytes()) {
        // Renamed first, not synced: the record written after it is what makes it durable, and the
        // region's checkpoint (a syncfs) covers the rename before the record can be overwritten.
        if (::rename(received_file.c_str(), target.c_str()) != 0) return last_error();
        ReceptionJournal::Place place;
        std::error_code ec;
        switch (journal_->append(entry.id, entry.calling_ae, received_fd, size, place, ec)) {
            case ReceptionJournal::Append::durable: {
                std::lock_guard<std::mutex> lock(journal_mutex_);
                journaled_[entry.id] = Journaled{place, entry.calling_ae, size, true};
                ++durable_by_journal_;
                break;
            }
            case ReceptionJournal::Append::failed:
                ::unlink(target.c_str());
                return ec;
            case ReceptionJournal::Append::no_room:  // every region waits for its checkpoint
                if (::fdatasync(received_fd) != 0 || !incoming_sync_->sync()) {
                    const auto sync_ec = last_error();
                    ::unlink(target.c_str());
                    return sync_ec;
                }
                ++durable_by_file_;
                break;
        }
        bytes_ += size;
        active_ = true;
        return {};
    }
    return accept_file(received_file, target, size, received_fd);
}

std::error_code Spool::accept_file(const std::string& received_file, const std::string& target, std::uint64_t size,
                                   int received_fd) {
    // received_fd, when given, is open on received_file: sync through it instead of opening it again.
    if (received_fd >= 0 ? ::fdatasync(received_fd) != 0 : !fdatasync_path(received_file)) return last_error();
    if (::rename(received_file.c_str(), target.c_str()) != 0) return last_error();
    if (!incoming_sync_->sync()) {
        const auto ec = last_error();
        ::unlink(target.c_str());
        return ec;
    }
    ++durable_by_file_;
    bytes_ += size;
    active_ = true;
    return {};
}

std::error_code Spool::make_incoming_file(const InstanceRecord& entry) {
    std::lock_guard<std::mutex> lock(journal_mutex_);
    auto it = journaled_.find(entry.id);
    if (it == journaled_.end() || it->second.has_file) return {};
    ReceptionJournal::Record record;
    if (const auto ec = journal_->read(it->second.place, record)) return ec;
    if (record.id != entry.id) return std::make_error_code(std::errc::io_error);
    // Not synced: the journal record stays until the instance is finished, and the checkpoint's
    // syncfs makes this file durable before the record can be written over.
    const std::string staging = tmp_dir() + "/" + entry.id + ".held";
    reuse_file_for(staging);
    auto ec = write_over(staging, record.data);
    if (!ec && ::rename(staging.c_str(), incoming_path(entry).c_str()) != 0) ec = last_error();
    if (ec) {
        ::unlink(staging.c_str());
        return ec;
    }
    it->second.has_file = true;
    ++files_made_;
    return {};
}

std::error_code Spool::make_incoming_files(std::uint32_t region) {
    std::vector<InstanceRecord> held;
    {
        std::lock_guard<std::mutex> lock(journal_mutex_);
        for (const auto& [id, j] : journaled_)
            if (!j.has_file && j.place.region == region) {
                InstanceRecord r;
                r.id = id;
                r.calling_ae = j.calling_ae;
                held.push_back(std::move(r));
            }
    }
    for (const auto& r : held)
        if (const auto ec = make_incoming_file(r)) return ec;
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

std::error_code Spool::write_output(const std::string& path, const std::string& bytes) {
    reuse_output_file_for(path);
    const auto ec = write_over(path, bytes);
    if (ec) ::unlink(path.c_str());
    return ec;
}

std::error_code Spool::write_outgoing(const std::string& destination, const std::string& id, const std::string& bytes) {
    const std::string file = tmp_dir() + "/" + id + "." + destination + ".out";
    if (const auto ec = write_output(file, bytes)) return ec;
    if (const auto ec = move_outgoing(file, destination, id)) {
        ::unlink(file.c_str());
        return ec;
    }
    // Its delivery waits: the original gets its file too, so that what waits is on disk as files
    // (incoming/ and outgoing/). Best effort: the region's checkpoint writes it otherwise.
    InstanceRecord held;
    {
        std::lock_guard<std::mutex> lock(journal_mutex_);
        auto it = journaled_.find(id);
        if (it == journaled_.end() || it->second.has_file) return {};
        held.id = id;
        held.calling_ae = it->second.calling_ae;
    }
    make_incoming_file(held);
    return {};
}

bool Spool::has_incoming(const InstanceRecord& entry) const {
    {
        std::lock_guard<std::mutex> lock(journal_mutex_);
        auto it = journaled_.find(entry.id);
        if (it != journaled_.end() && !it->second.has_file) return true;
    }
    return ::access(incoming_path(entry).c_str(), F_OK) == 0;
}

void Spool::remove_incoming(const InstanceRecord& entry) {
    {
        // Held only by its record: nothing on disk to remove.
        std::unique_lock<std::mutex> lock(journal_mutex_);
        auto it = journaled_.find(entry.id);
        if (it != journaled_.end() && !it->second.has_file) {
            const auto place = it->second.place;
            bytes_ -= std::min<std::uint64_t>(it->second.size, bytes_.load());
            journaled_.erase(it);
            lock.unlock();
            journal_->done(place, false);
            return;
        }
    }
    const std::string path = incoming_path(entry);
    std::uint64_t size = 0;
    if (discard(path, size)) bytes_ -= std::min<std::uint64_t>(size, bytes_.load());
    journal_done(entry.id, false);  // a lost mark: one more delivery after a crash, never a loss
}

void Spool::remove_outgoing(const std::string& destination, const std::string& id) {
    const std::string path = outgoing_path(destination, id);
    // Never recycled for receptions (a stale outgoing entry after a crash could point at the reused
    // inode, now holding a received original). Recycled for de-identification outputs only after
    // the removal is durable: see reuse_output_file_for().
    struct stat st {};
    const bool found = ::stat(path.c_str(), &st) == 0;  // one stat: its size and its link count
    const auto size = found ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (found && st.st_nlink == 1) {  // the last destination's link
        std::vector<std::pair<std::string, std::uint64_t>> batch;
        bool moved = false;
        {
            std::lock_guard<std::mutex> lock(free_mutex_);
            if (pending_outputs_.size() + free_outputs_.size() < kMaxFreeOutputs) {
                const std::string name = free_out_dir() + "/" + std::to_string(++free_seq_);
                if (::rename(path.c_str(), name.c_str()) == 0) {
                    moved = true;
                    pending_outputs_.push_back({name, size});
                    free_out_bytes_ += size;
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
                for (auto& item : batch) {
                    if (synced) {
                        free_outputs_.push_back(std::move(item));
                    } else {
                        ::unlink(item.first.c_str());
                        free_out_bytes_ -= std::min(item.second, free_out_bytes_);
                    }
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
        name = std::move(free_outputs_.back().first);
        free_out_bytes_ -= std::min(free_outputs_.back().second, free_out_bytes_);
        free_outputs_.pop_back();
    }
    if (::rename(name.c_str(), path.c_str()) != 0) ::unlink(name.c_str());
}

bool Spool::discard(const std::string& path, std::uint64_t& size) {
    struct stat st {};
    // A hard link shared with another queue is never reused; a large file is not kept.
    const bool found = ::stat(path.c_str(), &st) == 0;
    const bool reusable = found && st.st_nlink == 1;
    size = found ? static_cast<std::uint64_t>(st.st_size) : 0;
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
    const std::string folder = quarantine_folder(record);
    fs::create_directories(folder, ec);
    if (ec) return ec;
    record.quarantined_at = common::iso_now();
    nlohmann::json j = {{"id", record.id},
                        {"reason", record.reason},
                        {"detail", record.detail},
                        {"stage", stage_name(record.stage)},
                        {"destination", record.destination},
                        {"calling_ae", record.calling_ae},
                        {"quarantined_at", record.quarantined_at},
                        {"attempts", record.attempts},
                        {"file", "instance.dcm"}};
    {
        std::ofstream out(folder + "/reason.json.tmp");
        // A peer's AE title (or any value) may be invalid UTF-8: replaced (U+FFFD), never a throw.
        out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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
            r.id = item.path().filename().string();  // the folder name, until reason.json says
            r.reason = reason_dir.path().filename().string();
            r.folder = item.path().string();
            std::ifstream in(item.path() / "reason.json");
            try {
                nlohmann::json j = nlohmann::json::parse(in);
                r.id = j.value("id", r.id);
                r.detail = j.value("detail", "");
                r.stage = stage_from(j.value("stage", ""));
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
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return std::tie(a.id, a.destination) < std::tie(b.id, b.destination); });
    return out;
}

std::string Spool::quarantine_folder(const QuarantineRecord& record) const {
    // One folder per failed destination: the same instance may fail on two for the same reason.
    std::string name = record.id;
    if (record.stage == Stage::forward && !record.destination.empty()) name += "." + record.destination;
    return quarantine_dir() + "/" + record.reason + "/" + name;
}

std::vector<QuarantineRecord> Spool::find_quarantined(const std::string& id) const {
    std::vector<QuarantineRecord> out;
    for (auto& r : quarantined())
        if (r.id == id || fs::path(r.folder).filename() == id) out.push_back(r);
    return out;
}

std::error_code Spool::replay(const QuarantineRecord& record) {
    std::error_code ec;
    const std::string file = record.folder + "/instance.dcm";
    std::string target;
    if (record.stage == Stage::forward) {
        if (record.destination.empty()) return std::make_error_code(std::errc::invalid_argument);
        fs::create_directories(outgoing_dir(record.destination), ec);
        target = outgoing_path(record.destination, record.id);
    } else {
        InstanceRecord original;
        original.id = record.id;
        original.calling_ae = record.calling_ae;
        target = incoming_path(original);
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

std::vector<InstanceRecord> Spool::list_incoming() const {
    std::vector<InstanceRecord> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(incoming_dir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.size() < 5 || name.substr(name.size() - 4) != ".dcm") continue;
        const std::string stem = name.substr(0, name.size() - 4);
        const auto underscore = stem.find('_');
        InstanceRecord entry;
        entry.id = stem.substr(0, underscore);
        if (underscore != std::string::npos) entry.calling_ae = hex_decode(stem.substr(underscore + 1));
        entry.received_ms = received_ms(entry.id);
        out.push_back(std::move(entry));
    }
    {
        // And those held only by their journal record (received into memory, no file yet).
        std::lock_guard<std::mutex> lock(journal_mutex_);
        for (const auto& [id, j] : journaled_)
            if (!j.has_file) {
                InstanceRecord entry;
                entry.id = id;
                entry.calling_ae = j.calling_ae;
                entry.received_ms = received_ms(id);
                out.push_back(std::move(entry));
            }
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

void Spool::on_incoming(Listener listener) {
    std::lock_guard<std::mutex> lock(flow_mutex_);
    incoming_listener_ = std::move(listener);
}

void Spool::on_outgoing(const std::string& destination, Listener listener) {
    std::lock_guard<std::mutex> lock(flow_mutex_);
    if (listener) outgoing_listeners_[destination] = std::move(listener);
    else outgoing_listeners_.erase(destination);
}

std::error_code Spool::admit(InstanceRecord record, const std::string& received_file, std::uint64_t size,
                             int received_fd, const std::string* received_data) {
    if (const auto ec = accept_incoming(received_file, record, size, received_fd, received_data)) return ec;
    if (!record.received_ms) record.received_ms = received_ms(record.id);
    Listener listener;
    {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        if (!incoming_listener_ || !in_work_.insert(record.id).second) return {};  // a sweep hands it later
        listener = incoming_listener_;
    }
    listener(std::move(record));
    return {};
}

std::error_code Spool::publish(InstanceRecord record, const std::string& output_file,
                               const std::vector<std::string>& destinations) {
    if (destinations.empty()) {
        ::unlink(output_file.c_str());
        reject(record);  // nothing to wait for: finished
        return {};
    }
    const InstanceRecord key = record.without_data();
    if (!record.parsed.encoded.empty()) {
        Listener listener;
        {
            std::lock_guard<std::mutex> lock(flow_mutex_);
            auto it = outgoing_listeners_.find(destinations.front());
            if (destinations.size() == 1 && it != outgoing_listeners_.end()) {
                // In memory: nothing in outgoing/ (a sweep has nothing to hand), the original
                // stays in incoming/ and joined until the destination is done with it.
                joins_[key.id] = Join{key.without_data(), {destinations.front()}};
                queued_[destinations.front()].insert(key.id);
                in_work_.erase(key.id);
                listener = it->second;
            }
        }
        if (listener) {
            listener(std::move(record));
            return {};
        }
        // Several destinations, or one not listening yet: the file is written, as without memory.
        if (const auto ec = write_output(output_file, record.parsed.encoded)) return ec;
        record.parsed.encoded.clear();
        record.parsed.encoded_lease.reset();
    }
    {
        // Registered before the first link: a destination may deliver as soon as its file is there,
        // and a sweep must not hand out what is being linked.
        std::lock_guard<std::mutex> lock(flow_mutex_);
        joins_[key.id] = Join{key.without_data(), std::set<std::string>(destinations.begin(), destinations.end())};
        for (const auto& d : destinations) queued_[d].insert(key.id);
    }
    for (std::size_t i = 0; i < destinations.size(); ++i) {
        const bool last = i + 1 == destinations.size();
        if (const auto ec = last ? move_outgoing(output_file, destinations[i], key.id)
                                 : add_outgoing(output_file, destinations[i], key.id)) {
            for (std::size_t j = 0; j < i; ++j) remove_outgoing(destinations[j], key.id);
            ::unlink(output_file.c_str());
            std::lock_guard<std::mutex> lock(flow_mutex_);
            joins_.erase(key.id);
            for (const auto& d : destinations) queued_[d].erase(key.id);
            return ec;
        }
    }
    std::vector<std::pair<Listener, InstanceRecord>> hand;
    {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        in_work_.erase(key.id);
        for (std::size_t i = 0; i < destinations.size(); ++i) {
            auto it = outgoing_listeners_.find(destinations[i]);
            if (it == outgoing_listeners_.end()) continue;  // a sweep hands it once it listens
            // The data set goes to one destination only: a send may change it.
            hand.emplace_back(it->second, destinations.size() == 1 ? std::move(record) : key.without_data());
        }
    }
    for (auto& [listener, r] : hand) listener(std::move(r));
    return {};
}

void Spool::reject(const InstanceRecord& record) {
    // Removed before it is forgotten, so a sweep cannot hand it again.
    remove_incoming(record);
    std::lock_guard<std::mutex> lock(flow_mutex_);
    in_work_.erase(record.id);
}

std::error_code Spool::quarantine_incoming(const InstanceRecord& record, QuarantineRecord quarantine_record) {
    auto ec = make_incoming_file(record);
    if (!ec) ec = quarantine(incoming_path(record), std::move(quarantine_record));
    // Synced: a record brought back after a crash would de-identify a quarantined instance again.
    if (!ec) journal_done(record.id, true);
    std::lock_guard<std::mutex> lock(flow_mutex_);
    in_work_.erase(record.id);
    return ec;
}

void Spool::give_back(const InstanceRecord& record) {
    std::lock_guard<std::mutex> lock(flow_mutex_);
    in_work_.erase(record.id);
}

void Spool::delivered(const std::string& destination, const std::string& id, bool in_memory) {
    // The file goes before the id is forgotten, so a sweep cannot queue it again.
    if (!in_memory) remove_outgoing(destination, id);
    finish_destination(destination, id);
}

std::error_code Spool::quarantine_outgoing(const std::string& destination, const std::string& id,
                                           QuarantineRecord quarantine_record) {
    quarantine_record.stage = Stage::forward;
    quarantine_record.destination = destination;
    if (quarantine_record.id.empty()) quarantine_record.id = id;
    const auto ec = quarantine(outgoing_path(destination, id), std::move(quarantine_record));
    // Whether or not the move worked, this destination is done with the instance for now: a file
    // that could not be moved stays in outgoing/ and is tried again after a restart, never in a loop.
    finish_destination(destination, id);
    if (ec) {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        queued_[destination].insert(id);  // keeps the sweep from handing it again while running
    }
    return ec;
}

void Spool::dropped(const std::string& destination, const std::string& id) { finish_destination(destination, id); }

void Spool::finish_destination(const std::string& destination, const std::string& id) {
    InstanceRecord finished;
    {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        auto q = queued_.find(destination);
        if (q != queued_.end()) q->second.erase(id);
        auto it = joins_.find(id);
        if (it == joins_.end()) return;  // e.g. a replayed forward-stage instance
        it->second.destinations.erase(destination);
        if (!it->second.destinations.empty()) return;
        finished = it->second.record.without_data();
    }
    // Removed while still joined, so a sweep cannot hand it again. Not synced: if the unlink is
    // lost in a crash, the instance is delivered once more (docs/operations.md).
    remove_incoming(finished);
    std::lock_guard<std::mutex> lock(flow_mutex_);
    joins_.erase(id);
}

void Spool::sweep() {
    // Idle for a whole sweep interval (nothing admitted, nothing in flight): recycled files are
    // given back, so a quiet gateway holds no disk beyond its instances.
    if (!active_.exchange(false) && in_flight() == 0 && recycled_bytes() > 0) release_recycled();
    std::vector<std::pair<Listener, InstanceRecord>> hand;
    const auto incoming = list_incoming();
    std::map<std::string, std::vector<std::string>> outgoing;
    {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        for (const auto& [d, listener] : outgoing_listeners_) outgoing[d];
    }
    for (auto& [d, ids] : outgoing) ids = list_outgoing(d);
    {
        std::lock_guard<std::mutex> lock(flow_mutex_);
        if (incoming_listener_)
            for (const auto& r : incoming)
                if (!joins_.count(r.id) && in_work_.insert(r.id).second)
                    hand.emplace_back(incoming_listener_, r.without_data());
        for (const auto& [d, ids] : outgoing) {
            auto listener = outgoing_listeners_.find(d);
            if (listener == outgoing_listeners_.end()) continue;
            auto& queued = queued_[d];
            for (const auto& id : ids)
                if (queued.insert(id).second) {
                    InstanceRecord r;
                    r.id = id;
                    r.received_ms = received_ms(id);
                    hand.emplace_back(listener->second, std::move(r));
                }
        }
    }
    // Called outside the lock: a listener may call back into the spool.
    for (auto& [listener, r] : hand) listener(std::move(r));
}

std::size_t Spool::in_flight() const {
    std::lock_guard<std::mutex> lock(flow_mutex_);
    return in_work_.size() + joins_.size();
}

}  // namespace spool
