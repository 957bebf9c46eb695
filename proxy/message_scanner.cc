#include "proxy/message_scanner.h"

#include <algorithm>

#include "protocol/frame.h"

namespace storegate::proxy {

MessageScanner::MessageScanner(uint32_t max_length, std::initializer_list<char> whole_types,
                               std::initializer_list<char> marked_types)
    : max_length_(max_length) {
    for (char t : whole_types) {
        whole_.set(static_cast<uint8_t>(t));
    }
    for (char t : marked_types) {
        marked_.set(static_cast<uint8_t>(t));
    }
}

void MessageScanner::mark(char type, bool yes) {
    marked_.set(static_cast<uint8_t>(type), yes);
}

void MessageScanner::want_whole(char type, bool yes) {
    whole_.set(static_cast<uint8_t>(type), yes);
}

MessageScanner::Item MessageScanner::next(std::span<const uint8_t> buf, size_t pos) {
    Item item;
    size_t p = pos;
    while (p < buf.size()) {
        if (remaining_ > 0) {
            size_t take = std::min(remaining_, buf.size() - p);
            remaining_ -= take;
            p += take;
            continue;
        }
        protocol::FrameHeader h;
        auto status = protocol::decode_header(buf.subspan(p), max_length_, h);
        if (status == protocol::FrameStatus::kInvalid) {
            if (p > pos) {
                break;  // report what passes first; the bad header comes next call
            }
            item.kind = Kind::kInvalid;
            item.type = static_cast<char>(buf[p]);
            return item;
        }
        if (status == protocol::FrameStatus::kNeedMore) {
            if (p > pos) {
                break;
            }
            item.kind = Kind::kNeedMore;
            item.need = protocol::kHeaderSize;
            return item;
        }
        if (whole_.test(static_cast<uint8_t>(h.type))) {
            if (p > pos) {
                break;  // end the pass run before a message the owner wants to see
            }
            if (buf.size() - p < h.total()) {
                item.kind = Kind::kNeedMore;
                item.type = h.type;
                item.need = h.total();
                return item;
            }
            item.kind = Kind::kWhole;
            item.type = h.type;
            item.size = h.total();
            item.body = std::string_view(reinterpret_cast<const char*>(buf.data() + p + 5),
                                         h.total() - protocol::kHeaderSize);
            return item;
        }
        bool marked = marked_.test(static_cast<uint8_t>(h.type));
        if (marked && p > pos) {
            break;
        }
        if (item.messages == 0) {
            item.type = h.type;
        }
        ++item.messages;
        remaining_ = h.total();
        if (marked) {
            size_t take = std::min(remaining_, buf.size() - p);
            remaining_ -= take;
            p += take;
            break;
        }
    }
    item.kind = p > pos ? Kind::kPass : Kind::kNeedMore;
    item.size = p - pos;
    return item;
}

}  // namespace storegate::proxy
