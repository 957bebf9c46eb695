// A 128-bit uuid stored as two integers: stores are looked up by uuid millions of times, so the
// key is compact and hashes without touching the heap.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace storegate {

struct Uuid {
    uint64_t hi = 0;
    uint64_t lo = 0;

    // Accepts the canonical 8-4-4-4-12 form, upper or lower case; nothing else.
    static std::optional<Uuid> parse(std::string_view text);
    std::string to_string() const;
    bool is_nil() const { return hi == 0 && lo == 0; }
    friend bool operator==(const Uuid&, const Uuid&) = default;
};

struct UuidHash {
    size_t operator()(const Uuid& u) const noexcept {
        return std::hash<uint64_t>{}(u.hi * 0x9e3779b97f4a7c15ULL ^ u.lo);
    }
};

}  // namespace storegate
