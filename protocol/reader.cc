#include "protocol/reader.h"

namespace storegate::protocol {

namespace {

uint32_t big_endian(std::string_view bytes) {
    uint32_t v = 0;
    for (const char c : bytes) {
        v = (v << 8) | static_cast<uint8_t>(c);
    }
    return v;
}

}  // namespace

bool Reader::u8(uint8_t& out) {
    std::string_view b;
    if (!bytes(1, b)) {
        return false;
    }
    out = static_cast<uint8_t>(b[0]);
    return true;
}

bool Reader::i16(int16_t& out) {
    std::string_view b;
    if (!bytes(2, b)) {
        return false;
    }
    out = static_cast<int16_t>(static_cast<uint16_t>(big_endian(b)));
    return true;
}

bool Reader::i32(int32_t& out) {
    std::string_view b;
    if (!bytes(4, b)) {
        return false;
    }
    out = static_cast<int32_t>(big_endian(b));
    return true;
}

bool Reader::cstring(std::string_view& out) {
    const size_t end = data_.find('\0', pos_);
    if (end == std::string_view::npos) {
        return false;
    }
    out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
}

bool Reader::bytes(size_t n, std::string_view& out) {
    if (n > remaining()) {
        return false;
    }
    out = data_.substr(pos_, n);
    pos_ += n;
    return true;
}

}  // namespace storegate::protocol
