// The verifier: after de-identification and before anything is written or forwarded, scan the
// whole output (every element, every depth, private ones, file meta, decoded text and person
// names) for the identifying values of the original instance. Separate from the engine on purpose:
// it must catch a leak the engine makes. Reports name the tag that leaked, never the value.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/Config.h"

class DcmFileFormat;

namespace deid {

// The identifying values of one original instance, collected before de-identification:
// names and their components, ids, accession number, birth date, original dates, original UIDs,
// institution and staff names. Held in memory only; never logged.
struct Identifiers {
    struct Value {
        std::string text;      // normalised (decoded to UTF-8, trimmed)
        std::string category;  // "patient_name", "patient_id", "uid", "date", "institution", ... (no value)
    };
    std::vector<Value> values;
    // The date (YYYYMMDD, "" where none) of each value of every DA and DT element, by the
    // element's path ("(0008,0020)", "(0040,0275)[0]/(0040,0244)"): the verifier tells an element
    // moved by the patient's date shift from one holding a copy of another original date.
    std::map<std::string, std::vector<std::string>> dates_at;
};

Identifiers collect_identifiers(DcmFileFormat& original);

struct Leak {
    std::string tag_path;  // e.g. "(0008,1030)" or "(0040,a730)[0]/(0040,a160)"
    std::string category;  // which kind of identifier was found there (never the value)
};

struct VerifyReport {
    std::vector<Leak> leaks;
    bool clean() const { return leaks.empty(); }
    std::string summary() const;  // "leak: patient_name in (0008,1030); ..." — no values
};

// `profile` says which categories the options deliberately keep (retain_uids keeps UIDs,
// retain_long_full_dates keeps dates, retain_institution_identity keeps institution names, ...).
// `date_shift_days` is the patient's date shift the engine applied (0: none). A DA or DT value
// that is its own element's original date moved by exactly that many days is the shift, not a
// leak, even where it lands on another original date of the instance (a study date shifted onto
// a private sequence date); every other original date there is still one.
VerifyReport verify(const config::Profile& profile, const Identifiers& original, DcmFileFormat& output,
                    int date_shift_days = 0);

}  // namespace deid
