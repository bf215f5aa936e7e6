#include "spool/ReceptionJournal.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <tuple>

#include "common/WriteAll.h"

namespace spool {

namespace {

// On-disk layout (host byte order; the journal never leaves the machine that wrote it).
// Region header, block 0 of each region:
//   0 "DGWJRGN1"  8 generation u64  16 region bytes u64  24 CRC-32 of bytes 0..23 u32
// Record, at a 512-byte boundary after it:
//   0 "DGWR"  4 CRC-32 of bytes 8..39 u32  8 generation u64  16 data length u64
//   24 id length u16  26 calling AE length u16  28 CRC-32 of id, AE and data u32  32 zero u64
//   40 id, calling AE, data; zero up to the next boundary
constexpr char kRegionMagic[8] = {'D', 'G', 'W', 'J', 'R', 'G', 'N', '1'};
constexpr char kRecordMagic[4] = {'D', 'G', 'W', 'R'};
constexpr std::size_t kRegionHeader = 28;
constexpr std::size_t kRecordHeader = 40;
// Larger files go the file's own way (fdatasync, rename, folder fsync): their write-back starts
// while they are parsed, and a record would write their bytes twice on the serial path.
// bench/gateway_bench.sh, 2026-12-03: 131 KB instances faster through the journal, 530 KB slower.
constexpr std::uint64_t kMaxRecordBytes = 256u << 10;

std::error_code last_error() { return {errno, std::generic_category()}; }

std::uint32_t crc32_of(const char* data, std::size_t length) {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    while (length > 0) {  // zlib takes a uInt length
        const uInt n = static_cast<uInt>(std::min<std::size_t>(length, 1u << 30));
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data), n);
        data += n;
        length -= n;
    }
    return static_cast<std::uint32_t>(crc);
}

template <typename T>
T get(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <typename T>
void put(char* p, T v) {
    std::memcpy(p, &v, sizeof v);
}

std::uint64_t aligned(std::uint64_t n) {
    return (n + ReceptionJournal::kBlock - 1) / ReceptionJournal::kBlock * ReceptionJournal::kBlock;
}

bool pread_all(int fd, char* data, std::size_t length, off_t offset) {
    while (length > 0) {
        const ssize_t n = ::pread(fd, data, length, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;  // shorter than it said
            return false;
        }
        data += n;
        length -= static_cast<std::size_t>(n);
        offset += n;
    }
    return true;
}

// Whether every byte of the file is in blocks a write goes into as it is, with nothing to record
// about them: no hole (a journal copied sparse), no unwritten (fallocated) or delayed extent, none
// shared with another file (a reflink copy, written elsewhere on its first write), none the file
// system cannot map. create() makes the journal so; a copy restored from elsewhere may not be.
bool written_in_place(int fd, std::uint64_t size) {
    constexpr unsigned kExtents = 64;
    std::vector<char> buf(sizeof(fiemap) + kExtents * sizeof(fiemap_extent));
    std::uint64_t covered = 0;
    for (;;) {
        std::fill(buf.begin(), buf.end(), 0);
        auto* map = reinterpret_cast<fiemap*>(buf.data());
        map->fm_start = covered;
        map->fm_length = FIEMAP_MAX_OFFSET - covered;
        map->fm_flags = FIEMAP_FLAG_SYNC;
        map->fm_extent_count = kExtents;
        if (::ioctl(fd, FS_IOC_FIEMAP, map) != 0 || map->fm_mapped_extents == 0) return covered >= size;
        const std::uint64_t before = covered;
        for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
            const fiemap_extent& e = map->fm_extents[i];
            if (e.fe_logical >= size) return covered >= size;  // past the end (e.g. XFS's preallocation)
            constexpr std::uint32_t kNotInPlace = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
                                                  FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_SHARED |
                                                  FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_NOT_ALIGNED |
                                                  FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL;
            if (e.fe_logical > covered || (e.fe_flags & kNotInPlace)) return false;  // a hole, or not in place
            covered = std::max<std::uint64_t>(covered, e.fe_logical + e.fe_length);
            if (e.fe_flags & FIEMAP_EXTENT_LAST) return covered >= size;
        }
        if (covered == before) return false;  // no progress: not a map to rely on
    }
}

}  // namespace

using common::pwrite_all;

ReceptionJournal::ReceptionJournal(std::string directory, std::uint64_t bytes)
    : directory_(std::move(directory)),
      region_bytes_(bytes / kRegions / kBlock * kBlock),
      group_([this] { return fdatasync_once(); }) {}

ReceptionJournal::~ReceptionJournal() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    if (fd_ >= 0) ::close(fd_);
    if (done_fd_ >= 0) ::close(done_fd_);
    if (flush_fd_ >= 0) ::close(flush_fd_);
}

std::uint64_t ReceptionJournal::max_record_bytes() const { return std::min(kMaxRecordBytes, region_bytes_ / 4); }

bool ReceptionJournal::fdatasync_once() {
    if (flush_fd_ < 0) return ::fdatasync(fd_) == 0;
    // Every page dirtied before this began is on the disk (or in its cache) once this returns,
    // then one cache flush: what fdatasync does for this file, without its inode table block.
    if (::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                         SYNC_FILE_RANGE_WAIT_AFTER) != 0)
        return false;
    return ::fdatasync(flush_fd_) == 0;
}

void ReceptionJournal::choose_sync() {
    if (flush_fd_ >= 0) return;
    // Only where an overwrite of written blocks needs no metadata to be read back after a power cut
    // and fsync of an unchanged file still flushes the disk's cache: not on copy-on-write or
    // layered file systems, where fdatasync of the journal itself is what makes a record durable.
    struct statfs fs {};
    struct stat st {};
    if (::fstatfs(fd_, &fs) != 0 || (fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC)) return;
    if (::fstat(fd_, &st) != 0 || !written_in_place(fd_, static_cast<std::uint64_t>(st.st_size))) return;
    // In a folder of its own, which ext4 places away from the spool's busy inodes when its parent
    // asks for that (the Orlov allocator's top-directory flag; best effort, ignored elsewhere).
    const std::string folder = directory_ + "/flush";
    if (const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
        int flags = 0;
        if (::ioctl(dir, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
            flags |= FS_TOPDIR_FL;
            ::ioctl(dir, FS_IOC_SETFLAGS, &flags);
        }
        ::close(dir);
    }
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) return;
    flush_fd_ = ::open((folder + "/receptions.flush").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

std::error_code ReceptionJournal::open(std::vector<Record>& pending) {
    pending.clear();
    if (region_bytes_ < kMinRegionBytes) return std::make_error_code(std::errc::invalid_argument);
    fd_ = ::open(path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return errno == ENOENT ? std::error_code{} : last_error();  // none yet: nothing to recover
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return last_error();
    const auto size = static_cast<std::uint64_t>(st.st_size);

    // Recover with the geometry the file was written with (spool.journal_bytes may have changed).
    const std::uint64_t old_region = size % (kRegions * kBlock) == 0 ? size / kRegions : 0;
    if (old_region >= kMinRegionBytes) {
        const std::uint64_t old_slots = old_region / kBlock;
        std::vector<std::uint64_t> marks(kRegions * old_slots, 0);
        const int done_fd = ::open((path() + ".done").c_str(), O_RDONLY | O_CLOEXEC);
        if (done_fd < 0 && errno != ENOENT) return last_error();  // without it, every record comes back
        if (done_fd >= 0) {
            struct stat dst {};
            const bool read = ::fstat(done_fd, &dst) == 0 &&
                              pread_all(done_fd, reinterpret_cast<char*>(marks.data()),
                                        std::min<std::uint64_t>(static_cast<std::uint64_t>(dst.st_size), marks.size() * 8), 0);
            const int err = errno;
            ::close(done_fd);
            if (!read) return {err, std::generic_category()};
        }
        std::vector<std::tuple<std::uint64_t, std::uint64_t, Record>> found;  // generation, offset
        std::vector<char> buf(old_region);
        for (std::uint32_t r = 0; r < kRegions; ++r) {
            if (!pread_all(fd_, buf.data(), buf.size(), static_cast<off_t>(r * old_region))) return last_error();
            const char* h = buf.data();
            if (std::memcmp(h, kRegionMagic, 8) != 0 || get<std::uint32_t>(h + 24) != crc32_of(h, 24) ||
                get<std::uint64_t>(h + 16) != old_region)
                continue;  // never used, or torn while it was being reset: no record of it was answered
            const auto generation = get<std::uint64_t>(h + 8);
            next_generation_ = std::max(next_generation_, generation + 1);
            std::uint64_t off = kBlock;
            while (off + kRecordHeader <= old_region) {
                const char* p = buf.data() + off;
                const bool header_ok = std::memcmp(p, kRecordMagic, 4) == 0 &&
                                       get<std::uint32_t>(p + 4) == crc32_of(p + 8, kRecordHeader - 8) &&
                                       get<std::uint64_t>(p + 8) == generation;
                const auto data_len = header_ok ? get<std::uint64_t>(p + 16) : 0;
                const auto id_len = header_ok ? get<std::uint16_t>(p + 24) : 0;
                const auto ae_len = header_ok ? get<std::uint16_t>(p + 26) : 0;
                const std::uint64_t body = static_cast<std::uint64_t>(id_len) + ae_len + data_len;
                if (!header_ok || data_len > old_region || off + kRecordHeader + body > old_region) {
                    off += kBlock;  // not a record of this generation here: look at the next boundary
                    continue;
                }
                const std::uint64_t slot = off / kBlock;
                const bool whole = get<std::uint32_t>(p + 28) == crc32_of(p + kRecordHeader, body);
                if (whole && marks[r * old_slots + slot] != generation) {
                    const char* b = p + kRecordHeader;
                    Record rec{std::string(b, id_len), std::string(b + id_len, ae_len),
                               std::string(b + id_len + ae_len, data_len)};
                    found.emplace_back(generation, off, std::move(rec));
                }
                off += aligned(kRecordHeader + body);  // a torn body still has a whole header: skip it
            }
        }
        std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
            return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
        });
        for (auto& f : found) pending.push_back(std::move(std::get<2>(f)));
    }

    file_region_bytes_ = old_region;
    return {};
}

std::error_code ReceptionJournal::create() {
    namespace fs = std::filesystem;
    // New, or of another size: written full once, so a record's write never allocates.
    std::error_code ec;
    fs::create_directories(directory_, ec);
    if (ec) return ec;
    if (fd_ < 0) fd_ = ::open(path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return last_error();
    if (done_fd_ < 0) done_fd_ = ::open((path() + ".done").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (done_fd_ < 0) return last_error();
    if (::ftruncate(fd_, 0) != 0) return last_error();
    const std::vector<char> zeros(1u << 20, 0);
    for (std::uint64_t off = 0; off < kRegions * region_bytes_; off += zeros.size()) {
        const auto n = std::min<std::uint64_t>(zeros.size(), kRegions * region_bytes_ - off);
        if (!pwrite_all(fd_, zeros.data(), n, static_cast<off_t>(off))) return last_error();
    }
    if (::ftruncate(done_fd_, 0) != 0 || ::ftruncate(done_fd_, static_cast<off_t>(kRegions * slots() * 8)) != 0)
        return last_error();
    if (::fsync(fd_) != 0 || ::fsync(done_fd_) != 0) return last_error();
    const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return last_error();
    const bool synced = ::fsync(dir) == 0;
    ::close(dir);
    if (!synced) return last_error();
    file_region_bytes_ = region_bytes_;
    return {};
}

bool ReceptionJournal::write_header(std::uint32_t region, std::uint64_t generation) {
    char block[kBlock] = {};
    std::memcpy(block, kRegionMagic, 8);
    put<std::uint64_t>(block + 8, generation);
    put<std::uint64_t>(block + 16, region_bytes_);
    put<std::uint32_t>(block + 24, crc32_of(block, 24));
    static_assert(kRegionHeader <= kBlock, "the region header fits its block");
    return pwrite_all(fd_, block, kBlock, static_cast<off_t>(region * region_bytes_));
}

std::error_code ReceptionJournal::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (region_bytes_ < kMinRegionBytes) return std::make_error_code(std::errc::invalid_argument);
    if (file_region_bytes_ != region_bytes_) {
        if (const auto ec = create()) return ec;
    } else if (done_fd_ < 0) {
        // The journal is reused as it is; its done marks of older generations never match a new one.
        done_fd_ = ::open((path() + ".done").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (done_fd_ < 0 || ::ftruncate(done_fd_, static_cast<off_t>(kRegions * slots() * 8)) != 0) return last_error();
    }
    regions_.assign(kRegions, Region{});
    for (std::uint32_t r = 0; r < kRegions; ++r) {
        regions_[r].generation = next_generation_++;
        if (!write_header(r, regions_[r].generation)) return last_error();
    }
    if (::fdatasync(fd_) != 0) return last_error();
    choose_sync();
    active_ = -1;
    if (!checkpointer_.joinable()) checkpointer_ = std::thread([this] { checkpoint_loop(); });
    return {};
}

std::error_code ReceptionJournal::read(const Place& place, Record& record) const {
    const std::error_code not_whole = std::make_error_code(std::errc::io_error);
    if (fd_ < 0 || place.region >= kRegions || place.slot == 0 || place.slot >= slots()) return not_whole;
    const auto at = static_cast<off_t>(place.region * region_bytes_ + std::uint64_t{place.slot} * kBlock);
    char h[kRecordHeader];
    if (!pread_all(fd_, h, sizeof h, at)) return last_error();
    if (std::memcmp(h, kRecordMagic, 4) != 0 || get<std::uint32_t>(h + 4) != crc32_of(h + 8, kRecordHeader - 8) ||
        get<std::uint64_t>(h + 8) != place.generation)
        return not_whole;
    const auto data_len = get<std::uint64_t>(h + 16);
    const auto id_len = get<std::uint16_t>(h + 24);
    const auto ae_len = get<std::uint16_t>(h + 26);
    const std::uint64_t body = std::uint64_t{id_len} + ae_len + data_len;
    if (std::uint64_t{place.slot} * kBlock + kRecordHeader + body > region_bytes_) return not_whole;
    std::string b(body, '\0');
    if (!pread_all(fd_, b.data(), b.size(), at + static_cast<off_t>(kRecordHeader))) return last_error();
    if (get<std::uint32_t>(h + 28) != crc32_of(b.data(), b.size())) return not_whole;
    record.id = b.substr(0, id_len);
    record.calling_ae = b.substr(id_len, ae_len);
    record.data = b.substr(std::size_t{id_len} + ae_len);
    return {};
}

template <typename Fill>
ReceptionJournal::Append ReceptionJournal::append_record(const std::string& id, const std::string& calling_ae,
                                                         std::uint64_t size, Place& place, std::error_code& ec,
                                                         Fill fill, const std::function<void(const Place&)>& durable) {
    if (size > max_record_bytes() || id.size() > 0xffff || calling_ae.size() > 0xffff) return Append::no_room;
    const std::uint64_t body = id.size() + calling_ae.size() + size;
    const std::uint64_t total = aligned(kRecordHeader + body);
    std::uint64_t offset = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (regions_.empty()) return Append::no_room;  // not started
        if (active_ >= 0 && regions_[active_].offset + total > region_bytes_) {
            regions_[active_].state = State::full;  // checkpointed once its writers are done
            active_ = -1;
            changed_.notify_all();
        }
        if (active_ < 0) {
            for (std::uint32_t r = 0; r < kRegions; ++r)
                if (regions_[r].state == State::free && (active_ < 0 || regions_[r].generation < regions_[active_].generation))
                    active_ = static_cast<int>(r);
            if (active_ < 0) return Append::no_room;  // every region waits for its checkpoint
            regions_[active_].state = State::active;
            regions_[active_].offset = kBlock;
        }
        Region& region = regions_[active_];
        place.region = static_cast<std::uint32_t>(active_);
        place.slot = static_cast<std::uint32_t>(region.offset / kBlock);
        place.generation = region.generation;
        offset = region.offset;
        region.offset += total;
        ++region.writers;
    }

    thread_local std::vector<char> buf;
    buf.assign(total, 0);
    char* p = buf.data();
    std::memcpy(p, kRecordMagic, 4);
    put<std::uint64_t>(p + 8, place.generation);
    put<std::uint64_t>(p + 16, size);
    put<std::uint16_t>(p + 24, static_cast<std::uint16_t>(id.size()));
    put<std::uint16_t>(p + 26, static_cast<std::uint16_t>(calling_ae.size()));
    char* b = p + kRecordHeader;
    std::memcpy(b, id.data(), id.size());
    std::memcpy(b + id.size(), calling_ae.data(), calling_ae.size());
    bool written = fill(b + id.size() + calling_ae.size());
    if (written) {
        put<std::uint32_t>(p + 28, crc32_of(b, body));
        put<std::uint32_t>(p + 4, crc32_of(p + 8, kRecordHeader - 8));
        written = pwrite_all(fd_, p, total, static_cast<off_t>(place.region * region_bytes_ + offset));
    }
    const int write_errno = errno;
    // The region is not checkpointed before this record is synced and its holder knows where it is
    // (`durable`): a holder whose instance has no file yet writes it at the checkpoint.
    const auto release = [this, &place] {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--regions_[place.region].writers == 0 && regions_[place.region].state == State::full) changed_.notify_all();
    };
    if (!written) {
        release();
        ec = {write_errno, std::generic_category()};
        return Append::failed;
    }
    if (!group_.sync()) {
        ec = last_error();
        release();
        done(place, false);  // never answered Success: not to be recovered
        return Append::failed;
    }
    if (durable) durable(place);
    release();
    return Append::durable;
}

ReceptionJournal::Append ReceptionJournal::append(const std::string& id, const std::string& calling_ae, int fd,
                                                  std::uint64_t size, Place& place, std::error_code& ec) {
    return append_record(id, calling_ae, size, place, ec, [fd, size](char* data) { return pread_all(fd, data, size, 0); },
                         nullptr);
}

ReceptionJournal::Append ReceptionJournal::append(const std::string& id, const std::string& calling_ae,
                                                  const std::string& data, Place& place, std::error_code& ec,
                                                  const std::function<void(const Place&)>& durable) {
    return append_record(id, calling_ae, data.size(), place, ec, [&data](char* p) {
        std::memcpy(p, data.data(), data.size());
        return true;
    }, durable);
}

void ReceptionJournal::done(const Place& place, bool durable) {
    if (done_fd_ < 0 || place.slot >= slots() || place.region >= kRegions) return;
    char mark[8];
    put<std::uint64_t>(mark, place.generation);
    // A lost mark only brings the instance back after a crash: one more delivery, never a loss.
    if (pwrite_all(done_fd_, mark, sizeof mark, static_cast<off_t>((place.region * slots() + place.slot) * 8)) &&
        durable)
        ::fdatasync(done_fd_);
}

void ReceptionJournal::checkpoint_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        std::vector<std::uint32_t> ready;
        for (std::uint32_t r = 0; r < regions_.size(); ++r)
            if (regions_[r].state == State::full && regions_[r].writers == 0) ready.push_back(r);
        if (stopping_) return;
        if (ready.empty()) {
            changed_.wait(lock);
            continue;
        }
        lock.unlock();
        // Every record of these regions was written after its file was renamed into incoming/, or
        // its file is written now (an instance received into memory, not finished yet): one syncfs
        // makes those files, their names and every removal since durable.
        bool ok = true;
        for (std::size_t i = 0; ok && before_checkpoint_ && i < ready.size(); ++i) ok = !before_checkpoint_(ready[i]);
        ok = ok && ::syncfs(fd_) == 0;
        std::vector<std::uint64_t> generations;
        if (ok) {
            {
                std::lock_guard<std::mutex> relock(mutex_);
                for (std::size_t i = 0; i < ready.size(); ++i) generations.push_back(next_generation_++);
            }
            for (std::size_t i = 0; ok && i < ready.size(); ++i) ok = write_header(ready[i], generations[i]);
            // Synced before the region takes a record: its old records can never come back.
            ok = ok && ::fdatasync(fd_) == 0;
        }
        lock.lock();
        if (!ok) {
            ++checkpoint_failures_;
            // Tried again in a second; meanwhile receptions use the other regions, then their files.
            changed_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
            continue;
        }
        for (std::size_t i = 0; i < ready.size(); ++i) {
            regions_[ready[i]].state = State::free;
            regions_[ready[i]].generation = generations[i];
            regions_[ready[i]].offset = kBlock;
        }
        ++checkpoints_;
    }
}

std::uint64_t ReceptionJournal::checkpoints() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return checkpoints_;
}

std::uint64_t ReceptionJournal::checkpoint_failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return checkpoint_failures_;
}

}  // namespace spool
