// The CSV form of the map, read by `import` and written by `export`.
// Sections, each starting with a header line naming its columns:
//   patient_id,pseudonym[,date_offset_days]           (issuer = keystore.default_issuer)
//   issuer,patient_id,pseudonym[,date_offset_days]
//   original_uid,new_uid
// Blank lines and lines starting with '#' are ignored. Fields follow RFC 4180 (double quotes).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace keystore {

struct CsvPatientRow {
    int line = 0;
    std::string issuer;
    std::string patient_id;
    std::string pseudonym;
    std::optional<int> date_offset_days;
};

struct CsvUidRow {
    int line = 0;
    std::string original_uid;
    std::string new_uid;
};

struct CsvMap {
    std::vector<CsvPatientRow> patients;
    std::vector<CsvUidRow> uids;
    std::vector<std::string> errors;  // "line 7: date_offset_days: expected ..."; never a patient id
};

class CsvMapFile {
public:
    // Reads and validates every row (syntax, ranges, duplicates within the file).
    static CsvMap parse(const std::string& text, const std::string& default_issuer);
    // One CSV line (without the newline) from fields, quoting where needed.
    static std::string line(const std::vector<std::string>& fields);
    // Splits one CSV record; false when a quote is unbalanced.
    static bool split(const std::string& record, std::vector<std::string>& fields);
    static bool valid_uid(const std::string& uid);
};

}  // namespace keystore
