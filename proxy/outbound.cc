#include "proxy/outbound.h"

namespace storegate::proxy {

void Outbound::add_input(size_t offset, size_t length) {
    if (length == 0) {
        return;
    }
    if (!pieces_.empty() && !pieces_.back().own &&
        pieces_.back().offset + pieces_.back().length == offset) {
        pieces_.back().length += length;
        return;
    }
    pieces_.push_back({false, offset, length});
}

void Outbound::add_bytes(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    if (!pieces_.empty() && pieces_.back().own &&
        pieces_.back().offset + pieces_.back().length == own_.size()) {
        pieces_.back().length += bytes.size();
    } else {
        pieces_.push_back({true, own_.size(), bytes.size()});
    }
    own_.append(bytes);
}

void Outbound::clear() {
    pieces_.clear();
    own_.clear();
}

const std::vector<asio::const_buffer>& Outbound::buffers(const uint8_t* input) {
    buffers_.clear();
    for (const auto& p : pieces_) {
        const void* base = p.own ? static_cast<const void*>(own_.data() + p.offset)
                                 : static_cast<const void*>(input + p.offset);
        buffers_.emplace_back(base, p.length);
    }
    return buffers_;
}

}  // namespace storegate::proxy
