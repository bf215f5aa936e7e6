// One received C-STORE, as the SCP hands it to its handler. Holds original UIDs: never log them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>  // unique_ptr<DcmFileFormat> members

namespace dimse {

struct CStoreRequest {
    std::string association_id;     // "assoc-17": safe to log
    std::string calling_ae;
    std::string called_ae;
    std::string peer_address;
    std::uint16_t message_id = 0;
    // From the command set.
    std::string affected_sop_class_uid;
    std::string affected_sop_instance_uid;
    // The accepted transfer syntax of the presentation context the data set came on.
    std::string transfer_syntax_uid;
    // The received data set, written bit-preserving with a file meta header in the transfer syntax
    // it arrived in. The handler may rename it; whatever is left at this path afterwards is deleted.
    // When it was received into memory (in_memory), no file is there: `data` holds its bytes, and a
    // handler that needs a file writes it there itself and owns it (the SCP removes nothing then).
    std::string file_path;
    std::uint64_t file_size = 0;
    // The file at file_path, open (read-write) while the handler runs (its size came from it; a
    // handler can fdatasync it without opening it again); -1 when it could not be opened or was
    // received into memory. The SCP closes it after the handler returns: never close it in the handler.
    int file_descriptor = -1;
    // Received into memory (ScpSettings::memory_bytes): the file's bytes, meta header included.
    bool in_memory = false;
    std::string data;
    // What the SCP found when it parsed the file (DCMTK); the handler decides what it means.
    bool parsed = false;                  // false: the data set cannot be parsed
    std::string dataset_sop_class_uid;    // (0008,0016), empty when absent
    std::string dataset_sop_instance_uid; // (0008,0018), empty when absent
    // The whole parsed file, values in memory, when it is at most ScpSettings::keep_parsed_bytes
    // (else null): the handler may move it on, so the next stage need not parse the file again.
    std::unique_ptr<DcmFileFormat> dataset;
};

// The one place that decides a C-STORE response status (PS3.4 Annex B).
class CStoreHandler {
public:
    virtual ~CStoreHandler() = default;
    virtual std::uint16_t handle_store(CStoreRequest& request) = 0;  // may move `dataset` out
};

}  // namespace dimse
