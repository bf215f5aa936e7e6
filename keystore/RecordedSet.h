// A bounded in-memory set of mappings the broker KNOWS are recorded in the database with their
// derived values, keyed by the first 128 bits of the HMAC the derivation computes anyway (so a
// lookup costs no extra MAC and the set holds no original value). A hit lets the broker answer
// without touching SQLite. It can never answer a stale value: a recorded mapping never changes
// (import refuses to change an issued mapping and nothing deletes one), imported (non-derived)
// values are never put in the set, and keys are added only after their transaction committed.
// Bounded by two generations: when the current one is full it becomes the previous one and the
// oldest generation is dropped (approximately least-recently-used). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_set>

#include "keystore/KeyedDerivation.h"

namespace keystore {

class RecordedSet {
public:
    // Tables grow with use (no up-front reservation): a small working set stays cache-resident.
    explicit RecordedSet(std::size_t capacity) : generation_capacity_(capacity / 2 > 0 ? capacity / 2 : 1) {}

    bool contains(const MacKey& key) {
        if (current_.count(key)) return true;
        if (previous_.count(key)) {
            insert(key);  // still in use: keep it through the next generation change
            return true;
        }
        return false;
    }

    void insert(const MacKey& key) {
        if (current_.size() >= generation_capacity_) {
            previous_.swap(current_);
            current_ = {};
        }
        current_.insert(key);
    }

    std::size_t size() const { return current_.size() + previous_.size(); }

private:
    struct KeyHash {
        std::size_t operator()(const MacKey& k) const {  // the key is already uniformly random
            std::uint64_t h;
            std::memcpy(&h, k.data(), sizeof h);
            return static_cast<std::size_t>(h);
        }
    };
    std::size_t generation_capacity_;
    std::unordered_set<MacKey, KeyHash> current_, previous_;
};

}  // namespace keystore
