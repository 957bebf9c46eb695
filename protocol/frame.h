// Framing of PostgreSQL v3 messages (protocol docs, "Message Formats"): every message after
// startup is a one-byte type, an int32 length that counts itself, then the body. Pure code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace storegate::protocol {

// Largest message length (as on the wire: body + 4) storegate accepts from either side unless
// configured otherwise; `max_length` below is compared with that same wire length.
inline constexpr uint32_t kDefaultMaxMessage = 1u << 30;
inline constexpr size_t kHeaderSize = 5;

enum class FrameStatus {
    kReady,     // a whole message is available
    kNeedMore,  // fewer bytes than the header or the length promises
    kInvalid,   // length below 4 or above the limit: the stream is out of sync
};

struct Frame {
    char type = 0;
    std::string_view body;  // points into the input; valid while the input is
    size_t size = 0;        // header + body: how far to advance
};

// Decodes one typed message from the front of `in`.
FrameStatus decode_frame(std::span<const uint8_t> in, uint32_t max_length, Frame& out);

// Header-only variant for the relay: reports type and total size without requiring the body
// to be present, so large messages can be forwarded as they stream in.
struct FrameHeader {
    char type = 0;
    uint32_t length = 0;  // as on the wire: counts itself, not the type byte
    size_t total() const { return static_cast<size_t>(length) + 1; }
};
FrameStatus decode_header(std::span<const uint8_t> in, uint32_t max_length, FrameHeader& out);

uint32_t read_u32(const uint8_t* p);
uint16_t read_u16(const uint8_t* p);

}  // namespace storegate::protocol
