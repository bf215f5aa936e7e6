// The spool: directories are the state machine (docs/operations.md).
//   <state_dir>/spool/tmp/                          data sets while they arrive, de-identification output
//   <state_dir>/spool/incoming/<id>_<AE hex>.dcm    acknowledged (Success), waiting for de-identification
//   <state_dir>/spool/outgoing/<dest>/<id>.dcm      de-identified, waiting for delivery to <dest>
//   <state_dir>/spool/quarantine/<reason>/<id>/     instance.dcm + reason.json (no PHI)
//   <state_dir>/spool/journal/receptions[.done]     the reception journal (ReceptionJournal)
//   <state_dir>/spool/journal/flush/receptions.flush   idle: its fdatasync flushes the disk cache
// Durability (docs/operations.md, "Durability"): before Success the received file is renamed into
// incoming/ and its bytes written into the reception journal, whose sync is shared by
// concurrent receivers (ReceptionJournal); a data set received into memory gets only its record,
// and its incoming/ file is written when a stage needs it or before the record's region is
// checkpointed (make_incoming_file), so most never have one; without a journal (spool.journal_bytes 0), for a file
// larger than a record, or while every region waits for its checkpoint, the file is fdatasync'ed,
// renamed and incoming/ fsynced (one fsync shared by concurrent receivers) instead. The
// incoming original stays until every destination has the result; outgoing/ files are derived
// (de-identification is deterministic) and are not synced: after a crash, prepare() drops the
// outgoing copies of every instance still in incoming/ and it is de-identified again.
// Quarantine moves are synced (their files may be the only copy).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "config/Config.h"
#include "spool/DirectorySync.h"
#include "spool/InstanceRecord.h"
#include "spool/ReceptionJournal.h"

namespace spool {

// Which stage an instance failed on; reason.json spells it "receive" | "deidentify" | "forward".
enum class Stage { receive, deidentify, forward };
const char* stage_name(Stage stage);

struct QuarantineRecord {
    std::string id;
    std::string reason;       // slug, also the folder name
    std::string detail;       // one line, no PHI
    Stage stage = Stage::receive;
    std::string destination;  // for stage forward: each failed destination has its own record
    std::string calling_ae;
    std::string quarantined_at;  // ISO 8601 UTC
    int attempts = 0;
    std::string folder;       // absolute path of quarantine/<reason>/<id>
};

// The stages meet only here (docs/architecture.md): the reception admits an instance, the worker
// pool gets it from the incoming listener and publishes its output for its destinations, each
// destination's queue gets it from its outgoing listener and reports it delivered or quarantined,
// and the spool finishes the instance (removes the original) when its last destination is done.
// No stage holds another stage's class. One mutex guards who holds what, so a sweep never hands
// out an instance a stage already holds.
class Spool {
public:
    Spool(std::string root, config::Spool limits);
    // Stops the journal's checkpoints first: they write files of held instances (make_incoming_file)
    // with the members declared after it.
    ~Spool();

    // ---- where the stages meet ----
    using Listener = std::function<void(InstanceRecord)>;
    // Set before the stages run; called on the admitting / publishing / sweeping thread.
    void on_incoming(Listener listener);
    void on_outgoing(const std::string& destination, Listener listener);
    // receive: accept_incoming(), then the record goes to the incoming listener.
    // `received_data`: the received file's bytes when it was received into memory and no file was
    // made (`received_file` is where one is written if it must be).
    std::error_code admit(InstanceRecord record, const std::string& received_file, std::uint64_t size,
                          int received_fd = -1, const std::string* received_data = nullptr);
    // deidentify: `output_file` (in tmp/) is the instance's result for `destinations` (routing):
    // linked into each outgoing/<dest>/ and handed to each destination's listener; the data set
    // goes with the record when there is one destination. With none, the instance is finished.
    // When the record carries the output's bytes (record.parsed.encoded), `output_file` is not
    // written yet: for one destination that listens they go to it in memory and no file is made
    // (its sender writes it with write_outgoing() only if a send fails); otherwise they are written
    // to `output_file` first. Either way the incoming original stays until delivery, as always.
    // On an error nothing was queued and the worker still holds the instance.
    std::error_code publish(InstanceRecord record, const std::string& output_file,
                            const std::vector<std::string>& destinations);
    // deidentify: the instance leaves the path: rejected by the profile (original removed),
    // quarantined, or given back (its file gone, or the pool stopping: a later sweep hands it again).
    void reject(const InstanceRecord& record);
    std::error_code quarantine_incoming(const InstanceRecord& record, QuarantineRecord quarantine_record);
    void give_back(const InstanceRecord& record);
    // forward: `destination` is done with `id`; the instance is finished once every destination is.
    // `in_memory`: it was sent from memory and has no file in outgoing/<dest>/.
    void delivered(const std::string& destination, const std::string& id, bool in_memory = false);
    std::error_code quarantine_outgoing(const std::string& destination, const std::string& id,
                                        QuarantineRecord quarantine_record);
    void dropped(const std::string& destination, const std::string& id);  // its file was gone
    // Hands what waits in incoming/ and outgoing/ and no stage holds to the listeners (start-up,
    // and periodically for instances put back by `quarantine replay`).
    void sweep();
    // Instances admitted and not finished (in a worker, or waiting for a destination).
    std::size_t in_flight() const;

    // Creates the folders, empties tmp/ (nothing there was ever acknowledged), writes again into
    // incoming/ every journal record whose file is missing or differs, and starts the journal,
    // drops the outgoing copies of instances still in incoming/ (not durable; they are made
    // again), counts the bytes held.
    std::error_code prepare(const std::vector<std::string>& destinations);

    std::string new_id();
    static std::int64_t received_ms(const std::string& id);  // from the id; 0 when unknown

    const std::string& root() const { return root_; }
    std::string tmp_dir() const { return root_ + "/tmp"; }
    std::string incoming_dir() const { return root_ + "/incoming"; }
    std::string outgoing_dir(const std::string& destination) const { return root_ + "/outgoing/" + destination; }
    std::string quarantine_dir() const { return root_ + "/quarantine"; }
    std::string incoming_path(const InstanceRecord& record) const;
    std::string outgoing_path(const std::string& destination, const std::string& id) const;

    // Room for `bytes` more: under spool.max_bytes and above spool.min_free_bytes free on disk.
    // Recycled files count against both: when they would make it refuse, they are given back first.
    bool has_room(std::uint64_t bytes, std::string* why = nullptr);
    std::uint64_t bytes_held() const { return bytes_.load(); }  // instances in incoming/ and outgoing/
    // The reception journal, or null (tests and figures read its counters).
    const ReceptionJournal* journal() const { return journal_.get(); }
    std::size_t journal_restored() const { return journal_restored_; }  // files written again by prepare()
    // Why prepare() runs without the journal spool.journal_bytes asks for (it could not be
    // created, e.g. on a full disk: every reception is then made durable by its own file); empty
    // when it runs with it or none is configured.
    std::error_code journal_unavailable() const { return journal_unavailable_; }
    // Receptions made durable before Success by a journal record, and by their own file's syncs.
    std::uint64_t durable_by_journal() const { return durable_by_journal_.load(); }
    std::uint64_t durable_by_file() const { return durable_by_file_.load(); }
    std::uint64_t recycled_bytes() const;                        // files kept for reuse (tmp/free*)
    void release_recycled();                                     // deletes them

    // Durably moves a received file into incoming/: renamed, then its record in the journal synced;
    // or fdatasync'ed, renamed, and incoming/ fsynced (shared with concurrent callers). With
    // `received_data` (received into memory), its journal record alone, and no file: the instance
    // is then held by the record until it is finished, or until a stage needs its file, or the
    // record's region is checkpointed (make_incoming_file). Without room in the journal, the file
    // is written from the bytes and made durable as its own.
    std::error_code accept_incoming(const std::string& received_file, const InstanceRecord& record, std::uint64_t size,
                                    int received_fd = -1, const std::string* received_data = nullptr);
    // Writes the incoming/ file of an instance held only by its journal record, from that record
    // (not synced: the record stays until the instance is finished, and the region's checkpoint
    // syncs the file before the record can be written over). Nothing to do for any other instance.
    // A stage that reads the original without a data set in memory calls this first.
    std::error_code make_incoming_file(const InstanceRecord& record);
    // Instances whose incoming/ file make_incoming_file wrote (tests and figures).
    std::uint64_t incoming_files_made() const { return files_made_.load(); }
    // Hard-links (or copies) a de-identified file into outgoing/<dest>/<id>.dcm atomically, not
    // synced: its incoming original stays until every destination has it (see above).
    std::error_code add_outgoing(const std::string& file, const std::string& destination, const std::string& id);
    // The same for the last destination: `file` itself is renamed there (one rename, no link).
    std::error_code move_outgoing(const std::string& file, const std::string& destination, const std::string& id);
    // An output kept in memory, written into outgoing/<dest>/<id>.dcm (not synced, as above): for a
    // sender whose send failed, so that the retry or the quarantine has its file. An original held
    // by its journal record alone gets its incoming/ file then too: what waits is on disk as files.
    std::error_code write_outgoing(const std::string& destination, const std::string& id, const std::string& bytes);
    // Writes `bytes` to `path` over a recycled output file (reuse_output_file_for), cut to their
    // length, not synced; on a failure `path` is removed.
    std::error_code write_output(const std::string& path, const std::string& bytes);
    bool has_incoming(const InstanceRecord& record) const;  // its file, or its journal record alone
    // remove_incoming keeps up to kMaxFreeFiles finished originals (up to kMaxFreeFileBytes each,
    // kMaxFreeBytes in all) in tmp/free/, with their blocks, for reuse_file_for(): on this ext4
    // (no journal) creating an inode right after many deletions scans past every recently deleted
    // one (recently_deleted(), a quarter of the gateway's CPU in a profile), and freeing blocks
    // with the `discard` mount option slows down every fdatasync; writing over a recycled file
    // avoids both. A removal from incoming/ lost in a crash can only make an instance go through
    // de-identification again. Outgoing files are recycled separately (tmp/free-out/, only for
    // de-identification outputs, never for receptions) and only once their removal from every outgoing/<dest>/ is durable: the folders
    // are fsynced once per kOutputSyncBatch recycled files, so a crash can never leave an outgoing
    // entry pointing at a reused inode (docs/operations.md, Durability 4).
    void remove_incoming(const InstanceRecord& record);
    void remove_outgoing(const std::string& destination, const std::string& id);
    // Moves a recycled file (if any) to `path`, for a writer that writes over it and cuts it to its
    // own length. Its old bytes (another received original) stay there until then.
    void reuse_file_for(const std::string& path);
    // The same for a de-identification output, from the outgoing files whose removal is durable.
    void reuse_output_file_for(const std::string& path);

    // Moves a file into quarantine/<reason>/<id>/ with its reason.json. The source is removed.
    std::error_code quarantine(const std::string& file, QuarantineRecord record);
    std::vector<QuarantineRecord> quarantined() const;
    // Every record of instance `id` (one per failed destination), or the one whose folder is named `id`.
    std::vector<QuarantineRecord> find_quarantined(const std::string& id) const;
    // Puts it back at the start of the path it failed on (incoming/ or outgoing/<dest>/).
    std::error_code replay(const QuarantineRecord& record);
    std::error_code purge(const QuarantineRecord& record);

    // What is waiting, for start-up and periodic sweeps.
    std::vector<InstanceRecord> list_incoming() const;  // with those held by their journal record alone
    std::vector<std::string> list_outgoing(const std::string& destination) const;

private:
    void finish_destination(const std::string& destination, const std::string& id);
    std::string quarantine_folder(const QuarantineRecord& record) const;

    mutable std::mutex flow_mutex_;
    Listener incoming_listener_;
    std::map<std::string, Listener> outgoing_listeners_;
    std::set<std::string> in_work_;  // handed to the incoming listener, not yet published or gone
    struct Join {
        InstanceRecord record;               // without data
        std::set<std::string> destinations;  // not yet done
    };
    std::map<std::string, Join> joins_;                          // published, waiting for destinations
    std::map<std::string, std::set<std::string>> queued_;        // destination -> ids handed to it

    std::string root_;
    config::Spool limits_;
    std::atomic<std::uint64_t> bytes_{0};
    std::size_t journal_restored_ = 0;
    std::error_code journal_unavailable_;
    std::atomic<std::uint64_t> durable_by_journal_{0};
    std::atomic<std::uint64_t> durable_by_file_{0};
    std::atomic<std::uint64_t> seq_{0};
    std::unique_ptr<DirectorySync> incoming_sync_;
    std::unique_ptr<ReceptionJournal> journal_;  // null: spool.journal_bytes is 0
    std::error_code recover_journal();           // prepare(): open, restore, sync, start
    void journal_done(const std::string& id, bool durable);
    std::error_code accept_file(const std::string& received_file, const std::string& target, std::uint64_t size,
                                int received_fd);  // fdatasync, rename, incoming/ fsync
    std::error_code make_incoming_files(std::uint32_t region);  // before the region's checkpoint
    struct Journaled {
        ReceptionJournal::Place place;
        std::string calling_ae;
        std::uint64_t size = 0;
        bool has_file = true;  // false: received into memory, the record is its only copy
    };
    mutable std::mutex journal_mutex_;
    std::map<std::string, Journaled> journaled_;  // id -> its record, until finished
    std::atomic<std::uint64_t> files_made_{0};
    static constexpr std::size_t kMaxFreeFiles = 256;
    static constexpr std::uint64_t kMaxFreeFileBytes = 4u << 20;  // larger files are deleted, not kept
    static constexpr std::uint64_t kMaxFreeBytes = 256u << 20;    // disk held by kept files, at most
    std::string free_dir() const { return root_ + "/tmp/free"; }
    bool discard(const std::string& path, std::uint64_t& size);  // size: the file's, from its one stat
    mutable std::mutex free_mutex_;
    std::vector<std::pair<std::string, std::uint64_t>> free_files_;  // path, size (blocks kept)
    std::uint64_t free_bytes_ = 0;
    std::uint64_t free_out_bytes_ = 0;  // pending_outputs_ and free_outputs_
    std::atomic<bool> active_{false};   // something was admitted since the last sweep
    std::uint64_t free_seq_ = 0;
    static constexpr std::size_t kMaxFreeOutputs = 256;
    static constexpr std::size_t kOutputSyncBatch = 32;
    std::string free_out_dir() const { return root_ + "/tmp/free-out"; }
    std::vector<std::string> destinations_;
    std::vector<std::pair<std::string, std::uint64_t>> pending_outputs_;  // removed from outgoing/, not yet synced
    std::vector<std::pair<std::string, std::uint64_t>> free_outputs_;     // removal synced: may be overwritten
};

// fsync helpers; false on failure (errno set).
bool fsync_path(const std::string& path);
bool fdatasync_path(const std::string& path);

}  // namespace spool
