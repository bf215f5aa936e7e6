// One instance, file to file: parse, reject rules, de-identify (deid::apply), clean pixels,
// verify, write. Used by both `deid-gateway scrub` and the gateway's worker pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/Config.h"
#include "deid/PseudonymSource.h"

class DcmFileFormat;

namespace deid {

struct Outcome {
    enum class Kind {
        Clean,        // written to the output path (or kept in `encoded`)
        Rejected,     // a profile.reject rule matched; nothing written
        Quarantined,  // malformed, leak found by the verifier, pixel cleaning failed, ...
        Retry,        // the pseudonym source could not answer; try again later
    };
    Kind kind = Kind::Quarantined;
    std::string reason;  // short slug, used as quarantine/<reason>/ (e.g. "malformed", "leak")
    std::string detail;  // one line for logs and reports; never a PHI value
    // Filled in for Clean outcomes (pseudonymous values, safe to log and route on):
    std::string sop_class_uid;
    std::string sop_instance_uid;
    std::string study_instance_uid;
    std::string series_instance_uid;
    std::string modality;
    std::string transfer_syntax_uid;
    std::uint64_t output_bytes = 0;  // the output's size, known for in-place writes (else 0)
    // With set_memory_output: the output's bytes, when it was kept in memory instead of being
    // written (the output path is then untouched); empty when it was written.
    std::string encoded;
    int ocr_regions_read = 0;        // pixel cleaning: candidate regions OCR read
    int ocr_regions_cleaned = 0;     // pixel cleaning: regions filled
};

class InstanceDeidentifier {
public:
    InstanceDeidentifier(const config::Config& config, PseudonymSource& source);
    ~InstanceDeidentifier();
    InstanceDeidentifier(const InstanceDeidentifier&) = delete;
    InstanceDeidentifier& operator=(const InstanceDeidentifier&) = delete;

    // Durable writes (the default): each output is fsync'ed, and its folder after the rename, before
    // process_file returns Clean. With false, outputs are still written atomically (temp file,
    // rename) but not synced: the caller must make them durable itself (scrub syncs the output
    // folder's file system once before it reports).
    void set_durable_writes(bool durable);
    // In-place writes (default false; only with non-durable writes): the output is written straight
    // to `output_path`, overwriting (truncating) a file already there, so its inode is reused; on a
    // failure `output_path` is removed. For a caller that never exposes `output_path` before Clean
    // (the gateway links it into its queues afterwards): no temporary file, no rename.
    void set_write_in_place(bool in_place);
    // With in-place writes: an output of at most `limit_bytes` is not written but returned in
    // Outcome::encoded (the caller writes it, or sends it, itself); a larger one is written as
    // before. 0 (the default): every output is written.
    void set_memory_output(std::size_t limit_bytes);

    // Reads `input_path`; on Clean writes `output_path` atomically (temp file, fsync, rename).
    // Never throws for bad input; `calling_ae` feeds profile.reject conditions.
    Outcome process_file(const std::string& input_path, const std::string& output_path,
                         const std::string& calling_ae = "");
    // The same, with the input possibly parsed already: a non-null `file` (its values in memory,
    // as read from `input_path`) is used instead of reading `input_path`; a null one is read from
    // there and set. The instance is de-identified in place: on Clean, `file` holds exactly what
    // was written to `output_path`, for the next stage; on any other outcome, drop it.
    Outcome process(std::unique_ptr<DcmFileFormat>& file, const std::string& input_path,
                    const std::string& output_path, const std::string& calling_ae = "");

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace deid
