// Small helpers shared by the protocol tests: views of a std::string as wire bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>

#include "protocol/frame.h"

namespace storegate::protocol::test {

inline std::span<const uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Big-endian Int32, as the protocol writes it.
inline std::string be32(uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

// Decodes the single message in `wire`, checking that it fills the buffer exactly.
inline Frame only_frame(const std::string& wire) {
    Frame f;
    EXPECT_EQ(decode_frame(bytes_of(wire), kDefaultMaxMessage, f), FrameStatus::kReady);
    EXPECT_EQ(f.size, wire.size());
    return f;
}

}  // namespace storegate::protocol::test
