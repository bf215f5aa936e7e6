// An instance already parsed by one stage, handed to the next in memory so that it is parsed once
// on its way through (reception -> de-identification -> forwarding) instead of once per stage.
// The files stay the durable record and the source of truth: a stage that gets no ParsedInstance
// (after a restart, on a retry or a replay, for a second destination, or when the budget is spent)
// reads the file instead, with the same result.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>  // unique_ptr<DcmFileFormat> members

namespace spool {

// Bounds the bytes of parsed instances held between stages, so memory stays flat however long the
// queues get. A lease gives its bytes back when its last copy is gone.
class ParsedBudget {
public:
    explicit ParsedBudget(std::uint64_t limit_bytes) : limit_(limit_bytes) {}
    ParsedBudget(const ParsedBudget&) = delete;
    ParsedBudget& operator=(const ParsedBudget&) = delete;

    // Null when `bytes` more would exceed the limit. The budget must outlive its leases.
    std::shared_ptr<void> lease(std::uint64_t bytes) {
        std::uint64_t used = used_.load();
        do {
            if (used + bytes > limit_) return nullptr;
        } while (!used_.compare_exchange_weak(used, used + bytes));
        return std::shared_ptr<void>(static_cast<void*>(this), [this, bytes](void*) { used_ -= bytes; });
    }
    std::uint64_t used() const { return used_.load(); }

private:
    const std::uint64_t limit_;
    std::atomic<std::uint64_t> used_{0};
};

// Moved from stage to stage, never copied: one stage at a time holds it and may change it.
struct ParsedInstance {
    ParsedInstance() = default;
    ParsedInstance(std::unique_ptr<DcmFileFormat> f, std::string ts, std::shared_ptr<void> l)
        : file(std::move(f)), transfer_syntax_uid(std::move(ts)), lease(std::move(l)) {}
    ParsedInstance(ParsedInstance&&) = default;
    ParsedInstance& operator=(ParsedInstance&&) = default;
    ParsedInstance(const ParsedInstance&) = delete;
    ParsedInstance& operator=(const ParsedInstance&) = delete;

    std::unique_ptr<DcmFileFormat> file;
    std::string transfer_syntax_uid;      // the syntax of its file (set once written by the worker)
    std::shared_ptr<void> lease;          // its share of the ParsedBudget
    // De-identification -> forwarding: the output file's bytes, when the worker kept them in memory
    // instead of writing the file (with `file`, their parsed form): outgoing/<dest>/ holds no file
    // until a send fails and must be retried (Spool::publish). Empty when the file was written.
    std::string encoded;
    std::shared_ptr<void> encoded_lease;  // its share of the ParsedBudget
    explicit operator bool() const { return file != nullptr; }
};

// `file` with a lease for `bytes`, or an empty ParsedInstance when the budget is spent.
inline ParsedInstance hold(ParsedBudget& budget, std::unique_ptr<DcmFileFormat> file, std::uint64_t bytes) {
    ParsedInstance p;
    if (!file) return p;
    p.lease = budget.lease(bytes);
    if (p.lease) p.file = std::move(file);
    return p;
}

}  // namespace spool
