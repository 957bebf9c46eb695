#include "common/uuid.h"

namespace storegate {

static int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
    if (text.size() != 36) {
        return std::nullopt;
    }
    Uuid out;
    int nibbles = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return std::nullopt;
            }
            continue;
        }
        int v = hex_value(text[i]);
        if (v < 0) {
            return std::nullopt;
        }
        uint64_t& half = nibbles < 16 ? out.hi : out.lo;
        half = (half << 4) | static_cast<uint64_t>(v);
        ++nibbles;
    }
    return out;
}

std::string Uuid::to_string() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int n = 0; n < 32; ++n) {
        if (n == 8 || n == 12 || n == 16 || n == 20) {
            out.push_back('-');
        }
        uint64_t half = n < 16 ? hi : lo;
        int shift = (15 - (n % 16)) * 4;
        out.push_back(kDigits[(half >> shift) & 0xf]);
    }
    return out;
}

}  // namespace storegate
