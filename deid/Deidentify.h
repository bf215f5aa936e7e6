// The de-identification engine: PS3.15 Annex E, table-driven (deid/Ps315Table.h), every option,
// site rules, allow-list, nested sequences, file meta. Pure: no files, sockets or threads.
// One PseudonymSource::resolve call per instance (all UIDs and hash values are collected first).
// See docs/deidentification.md.
#pragma once

#include <string>
#include <vector>

#include "deid/Profile.h"
#include "deid/PseudonymSource.h"

class DcmDataset;
class DcmFileFormat;
class DcmItem;

namespace deid {

struct DeidReport {
    // Pseudonymous values of the output, safe to log and route on.
    std::string sop_class_uid;
    std::string sop_instance_uid;
    std::string study_instance_uid;
    std::string series_instance_uid;
    std::string modality;
    bool dates_shifted = false;
    int date_offset_days = 0;  // the shift given to DA and DT values when dates_shifted (never logged)
    std::vector<std::string> method_codes;  // CID 7050 code values written to (0012,0064)
    // Non-empty: the instance must not be released (a short slug, no PHI), e.g.
    // "recognizable-visual-features" when clean_recognizable_visual_features is on and the
    // instance says Recognizable Visual Features (0028,0302) = YES.
    std::string refusal;
    int removed = 0;        // elements removed
    int replaced = 0;       // elements given a dummy, empty, pseudonym, hash or rule value
    int cleaned = 0;        // text values cleaned
    int uids_replaced = 0;  // UID values replaced
};

// De-identifies `file` in place: dataset and file meta header. Throws PseudonymUnavailable when
// the source cannot answer (nothing useful is left in `file` then; reload it to retry).
DeidReport apply(const Profile& profile, DcmFileFormat& file, PseudonymSource& source);
// Same for a dataset without file meta header.
DeidReport apply(const Profile& profile, DcmDataset& dataset, PseudonymSource& source);

// Adds a CID 7050 code (e.g. "113101" after pixel cleaning) to De-identification Method Code
// Sequence (0012,0064) and its meaning to De-identification Method (0012,0063).
void add_method_code(DcmItem& dataset, const std::string& code);
void add_method_codes(DcmItem& dataset, const std::vector<std::string>& codes);  // the same, in order

// The CID 7050 code meaning of a code value ("" when unknown).
const char* method_code_meaning(const std::string& code);

}  // namespace deid
