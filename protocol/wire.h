// Helpers for writing message bytes (protocol docs, "Message Data Types"): integers in network
// byte order, NUL-terminated strings, and the type byte + length header of a typed message.
// Internal to protocol/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace storegate::protocol::wire {

inline void put_u32(std::string& out, uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                           static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(bytes, 4);
}

inline void put_i32(std::string& out, int32_t v) {
    put_u32(out, static_cast<uint32_t>(v));
}

inline void put_i16(std::string& out, int16_t v) {
    const auto u = static_cast<uint16_t>(v);
    const char bytes[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
    out.append(bytes, 2);
}

// A protocol String cannot hold a NUL; writing only what precedes one keeps the message
// well-formed, so text that came from elsewhere can never split one message into two.
inline void put_cstring(std::string& out, std::string_view s) {
    out.append(s.substr(0, s.find('\0')));
    out.push_back('\0');
}

// Writes the type byte and a length placeholder; returns where the length starts.
inline size_t begin(std::string& out, char type) {
    out.push_back(type);
    const size_t at = out.size();
    put_u32(out, 0);
    return at;
}

// Fills in the length (which counts itself but not the type byte).
inline void finish(std::string& out, size_t at) {
    const auto len = static_cast<uint32_t>(out.size() - at);
    out[at] = static_cast<char>(len >> 24);
    out[at + 1] = static_cast<char>(len >> 16);
    out[at + 2] = static_cast<char>(len >> 8);
    out[at + 3] = static_cast<char>(len);
}

// A message whose body is empty.
inline void empty_message(std::string& out, char type) {
    out.push_back(type);
    put_u32(out, 4);
}

}  // namespace storegate::protocol::wire
