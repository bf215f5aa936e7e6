// Small synthetic DICOM instances for the dimse and gateway tests (DCMTK), with fake identifying
// values the tests can look for after de-identification.
#pragma once

#include <string>
#include <vector>

namespace testdata {

struct Series {
    std::string modality = "CT";
    std::string sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";  // CT Image Storage
    int instances = 3;
};

struct StudySpec {
    std::string patient_name = "DOE^JANE";
    std::string patient_id = "PAT-4711";
    std::string study_uid = "1.2.826.0.1.3680043.8.498.1";
    std::vector<Series> series = {Series{}};
    int rows = 16, columns = 16;
    bool rle = false;  // write the pixel data RLE Lossless compressed
};

struct Written {
    std::string path;
    std::string sop_instance_uid;
    std::string series_instance_uid;
};

// Writes the study under `dir` (one file per instance), returns what it wrote.
std::vector<Written> write_study(const std::string& dir, const StudySpec& spec);

// A file that starts like DICOM (valid meta header) and whose data set is garbage.
void write_malformed(const std::string& path);

}  // namespace testdata

namespace testdata {

// A C-STORE sent with DCMTK's low-level DIMSE API, so the request's SOP Class/Instance can differ
// from the data set (what storescu never does). Returns the response status, or -1 when no
// response came (association refused, connection lost).
struct RawStore {
    std::string calling_ae = "RAWSCU";
    std::string called_ae = "DEIDGW";
    int port = 0;
    std::string request_sop_class_uid;
    std::string request_sop_instance_uid;
};
int raw_store_file(const RawStore& how, const std::string& file);           // sends the file's data set
int raw_store_dataset_of(const RawStore& how, const std::string& file,      // loads it, edits, sends
                         bool drop_sop_instance_uid, const std::string& replace_sop_class_uid = "");

}  // namespace testdata

struct T_ASC_Network;
struct T_ASC_Association;

namespace testdata {

// An association that is opened (Verification) and then left silent until destroyed.
class HeldAssociation {
public:
    HeldAssociation(const std::string& host, int port, const std::string& calling, const std::string& called);
    ~HeldAssociation();
    bool open() const { return assoc_ != nullptr; }

private:
    T_ASC_Network* net_ = nullptr;
    T_ASC_Association* assoc_ = nullptr;
};

}  // namespace testdata
