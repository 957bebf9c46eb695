#include "protocol/frame.h"

#include <cstring>

namespace storegate::protocol {

uint32_t read_u32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

uint16_t read_u16(const uint8_t* p) {
    return static_cast<uint16_t>((static_cast<uint16_t>(p[0]) << 8) | p[1]);
}

// "Message Formats": the length counts itself, so anything below 4 cannot be a message and
// means the stream lost sync; a length above the limit is refused before any body is buffered.
FrameStatus decode_header(std::span<const uint8_t> in, uint32_t max_length, FrameHeader& out) {
    if (in.size() < kHeaderSize) {
        return FrameStatus::kNeedMore;
    }
    const uint32_t length = read_u32(in.data() + 1);
    if (length < 4 || length > max_length) {
        return FrameStatus::kInvalid;
    }
    out.type = static_cast<char>(in[0]);
    out.length = length;
    return FrameStatus::kReady;
}

FrameStatus decode_frame(std::span<const uint8_t> in, uint32_t max_length, Frame& out) {
    FrameHeader header;
    const FrameStatus status = decode_header(in, max_length, header);
    if (status != FrameStatus::kReady) {
        return status;
    }
    if (in.size() < header.total()) {
        return FrameStatus::kNeedMore;
    }
    out.type = header.type;
    out.body =
        std::string_view(reinterpret_cast<const char*>(in.data()) + kHeaderSize, header.length - 4);
    out.size = header.total();
    return FrameStatus::kReady;
}

}  // namespace storegate::protocol
