// Bytes queued for one write, gathered without copying: pieces of an input buffer (by offset,
// so the buffer may grow meanwhile) and bytes storegate made itself. One write call sends all.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proxy/net.h"

namespace storegate::proxy {

class Outbound {
  public:
    void add_input(size_t offset, size_t length);
    void add_bytes(std::string_view bytes);
    bool empty() const { return pieces_.empty(); }
    void clear();
    // Buffers for a write; `input` is the input buffer's current start. Valid until the next
    // change to this object or to the input buffer.
    const std::vector<asio::const_buffer>& buffers(const uint8_t* input);

  private:
    struct Piece {
        bool own;
        size_t offset;
        size_t length;
    };
    std::vector<Piece> pieces_;
    std::string own_;
    std::vector<asio::const_buffer> buffers_;
};

}  // namespace storegate::proxy
