// One received instance as it moves through the stages: a small value that travels by move,
// with the parsed data set when a stage could hand it on in memory (ParsedInstance).
#pragma once

#include <cstdint>
#include <string>

#include "spool/ParsedInstance.h"

namespace spool {

struct InstanceRecord {
    std::string id;          // "<ms since epoch>-<seq>-<random>": time-ordered, safe to log
    std::string calling_ae;  // who sent it (for routing and reject rules); peer bytes, may be any octets
    std::int64_t received_ms = 0;  // from the id
    ParsedInstance parsed;   // the data set in memory, or empty: the stage reads the file

    // The same record without its data set (for a retry, which reads the file).
    InstanceRecord without_data() const {
        InstanceRecord r;
        r.id = id;
        r.calling_ae = calling_ae;
        r.received_ms = received_ms;
        return r;
    }
};

}  // namespace spool
