// The reception journal (docs/operations.md, Durability 1): what makes a received instance durable
// before Success without an fdatasync of its file and an fsync of incoming/ for every instance.
//
// One file, spool/journal/receptions, written full once (so a record's write allocates no block
// and changes no size), in kRegions regions. A reception, after its file was renamed into
// incoming/ (not synced), or straight from memory when it was received without a file (then the
// record is its only copy), goes with its id, calling AE and a CRC-32 (zlib) into the next free place
// of the active region, 512-byte aligned, with one pwrite; one sync then covers every record
// written before it began (GroupCommit). Only the data needs to reach the disk: the file's blocks
// were written full and synced when it was made, so no block, size or extent of it changes. On
// ext4 and XFS the sync is the journal's dirty pages written and waited for (sync_file_range),
// then the disk's write cache flushed by fdatasync of an idle file (flush/receptions.flush): the
// journal's own fdatasync would also write the inode-table block its inode is in, which its time
// stamps (and, without an ext4 journal, any inode beside it, e.g. the keystore's WAL) dirty, one
// more device write before every Success. Elsewhere (btrfs, overlayfs, tmpfs...) and for a journal
// file whose blocks are not all written in place (FIEMAP: a hole, an unwritten, delayed or shared
// extent): fdatasync of the journal. A full region is checkpointed in the background: the files of
// instances held by its records alone are written (on_checkpoint), one syncfs makes every file its
// records stand for (and every removal since) durable, then the region gets a new generation (its
// header, synced) and is written again.
// Finished instances are marked done in receptions.done (one generation per slot; synced only for a
// quarantined instance). At start-up, open() returns the records of the current generations that
// are whole (CRC) and not marked done; the spool compares each with its incoming/ file and writes
// the file again when it is missing or differs, syncs, and start() begins afresh. A record torn by
// a crash was never answered Success (Success waits for the sync that covers it): it is skipped.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "spool/GroupCommit.h"

namespace spool {

class ReceptionJournal {
public:
    static constexpr std::uint32_t kRegions = 4;
    static constexpr std::uint64_t kBlock = 512;
    static constexpr std::uint64_t kMinRegionBytes = 1u << 20;

    struct Record {
        std::string id;
        std::string calling_ae;
        std::string data;  // the received file's bytes
    };
    // Where a record is: for done().
    struct Place {
        std::uint32_t region = 0;
        std::uint32_t slot = 0;  // its offset in the region, in blocks
        std::uint64_t generation = 0;
    };
    enum class Append { durable, no_room, failed };
    // How a record is made durable (the header comment): chosen by start().
    enum class Sync { journal_fdatasync, range_and_flush };

    // `bytes`: the journal's size on disk (spool.journal_bytes), split into kRegions regions.
    ReceptionJournal(std::string directory, std::uint64_t bytes);
    ~ReceptionJournal();  // stops the checkpoints
    ReceptionJournal(const ReceptionJournal&) = delete;
    ReceptionJournal& operator=(const ReceptionJournal&) = delete;

    // Reads the journal, if there is one, and gives every whole record not marked done, oldest
    // first. An error here means records may be unreadable: the caller must not go on without them.
    std::error_code open(std::vector<Record>& pending);
    // The pending records are durable elsewhere now: the journal is created (written full,
    // synced) when it was missing or of another size, every region gets a new generation (synced)
    // and the checkpoint thread starts. An error here loses nothing (e.g. a full disk).
    std::error_code start();

    // The largest received file a record takes (a quarter of a region, at most 256 KiB).
    std::uint64_t max_record_bytes() const;
    // Writes the `size` bytes of `fd` (from offset 0) with `id` and `calling_ae` into a record and
    // returns once it is durable. no_room: the file is larger than max_record_bytes, or no region
    // is free (all full and waiting for their checkpoint); the caller makes the file durable itself.
    Append append(const std::string& id, const std::string& calling_ae, int fd, std::uint64_t size, Place& place,
                  std::error_code& ec);
    // The same for bytes in memory (a data set received without a file). `durable` is called with
    // the record's place once it is durable and before its region can be checkpointed.
    Append append(const std::string& id, const std::string& calling_ae, const std::string& data, Place& place,
                  std::error_code& ec, const std::function<void(const Place&)>& durable);
    // The record at `place`, read back (for an instance whose only copy it is): an error when it is
    // not whole or not of that place's generation.
    std::error_code read(const Place& place, Record& record) const;
    // Called on the checkpoint thread with a full region's number before the syncfs that lets the
    // region be written again: whoever holds an instance only in a record of it writes its file
    // now (the syncfs then makes it durable). An error puts the checkpoint off (tried again in 1 s).
    // Set before start().
    void on_checkpoint(std::function<std::error_code(std::uint32_t region)> before_sync) {
        before_checkpoint_ = std::move(before_sync);
    }
    // The record's instance is finished (its incoming/ file removed or quarantined): never
    // recovered again. `durable`: the mark is synced before this returns.
    void done(const Place& place, bool durable);

    // Counters for tests and figures.
    std::uint64_t checkpoints() const;
    std::uint64_t checkpoint_failures() const;  // a failed syncfs or header write (tried again in 1 s)
    std::uint64_t syncs() const { return group_.syncs(); }
    Sync sync_method() const { return flush_fd_ >= 0 ? Sync::range_and_flush : Sync::journal_fdatasync; }
    std::string path() const { return directory_ + "/receptions"; }

private:
    enum class State { free, active, full };
    struct Region {
        std::uint64_t generation = 0;
        State state = State::free;
        std::uint64_t offset = kBlock;  // next free byte; the header is block 0
        int writers = 0;                // records reserved, not yet synced and handed to their holder
    };
    bool fdatasync_once();
    // Reserves a place for the record, writes it (`fill` puts its `size` data bytes after its
    // header), waits for its sync, calls `durable` (if any), and only then lets its region go.
    template <typename Fill>
    Append append_record(const std::string& id, const std::string& calling_ae, std::uint64_t size, Place& place,
                         std::error_code& ec, Fill fill, const std::function<void(const Place&)>& durable);
    void choose_sync();
    std::error_code create();
    bool write_header(std::uint32_t region, std::uint64_t generation);
    void checkpoint_loop();
    std::uint64_t slots() const { return region_bytes_ / kBlock; }

    std::string directory_;
    std::uint64_t region_bytes_;
    std::uint64_t file_region_bytes_ = 0;  // the region size the file on disk was written with
    int fd_ = -1;
    int done_fd_ = -1;
    int flush_fd_ = -1;  // the idle file whose fdatasync flushes the disk's cache (Sync::range_and_flush)
    GroupCommit group_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Region> regions_;
    int active_ = -1;
    std::uint64_t next_generation_ = 1;
    std::uint64_t checkpoints_ = 0;
    std::uint64_t checkpoint_failures_ = 0;
    bool stopping_ = false;
    std::thread checkpointer_;
    std::function<std::error_code(std::uint32_t)> before_checkpoint_;
};

}  // namespace spool
