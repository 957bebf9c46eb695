// The untyped first packet of a connection (protocol docs, "Start-up" and "Message Formats":
// StartupMessage, SSLRequest, GSSENCRequest, CancelRequest): int32 length, int32 code, payload.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace storegate::protocol {

inline constexpr size_t kMaxStartupPacket = 10000;
inline constexpr uint32_t kProtocol30 = 196608;  // 3.0
inline constexpr uint32_t kSslRequestCode = 80877103;
inline constexpr uint32_t kGssEncRequestCode = 80877104;
inline constexpr uint32_t kCancelRequestCode = 80877102;

enum class StartupKind { kStartup, kSsl, kGssEnc, kCancel };

struct StartupPacket {
    StartupKind kind = StartupKind::kStartup;
    uint32_t version = 0;
    // In wire order; names are unique (a repeated name is malformed).
    std::vector<std::pair<std::string, std::string>> params;
    int32_t cancel_pid = 0;
    int32_t cancel_secret = 0;

    // Empty string_view if absent.
    std::string_view param(std::string_view name) const;
};

enum class StartupStatus {
    kReady,
    kNeedMore,
    kTooShort,    // length below 8
    kTooLong,     // length above kMaxStartupPacket
    kBadVersion,  // a protocol other than 3.x
    kMalformed,   // missing terminators, no user, duplicate or empty names
};

// Decodes the packet at the front of `in`; on kReady `consumed` is its length.
// Protocol 3.x minor versions above 0 are accepted (the server answers with 3.0 semantics and
// a NegotiateProtocolVersion is not needed for 3.0 itself).
StartupStatus decode_startup(std::span<const uint8_t> in, StartupPacket& out, size_t& consumed);

// Splits the value of the `options` parameter into `-c name=value` / `--name=value` pairs,
// honouring backslash escapes as the server does. Unrecognised words are kept in `other`.
struct StartupOption {
    std::string name;
    std::string value;
};
bool parse_options(std::string_view options, std::vector<StartupOption>& out,
                   std::vector<std::string>& other);

}  // namespace storegate::protocol
