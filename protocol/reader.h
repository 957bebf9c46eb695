// Bounds-checked cursor over a message body. Every getter fails (returns false) rather than
// read past the end, so a malformed body from the network can never crash the decoder.
#pragma once

#include <cstdint>
#include <string_view>

namespace storegate::protocol {

class Reader {
  public:
    explicit Reader(std::string_view body) : data_(body) {}

    bool u8(uint8_t& out);
    bool i16(int16_t& out);
    bool i32(int32_t& out);
    // A NUL-terminated string; `out` excludes the terminator.
    bool cstring(std::string_view& out);
    bool bytes(size_t n, std::string_view& out);
    std::string_view rest() const { return data_.substr(pos_); }
    size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }

  private:
    std::string_view data_;
    size_t pos_ = 0;
};

}  // namespace storegate::protocol
