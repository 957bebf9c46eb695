// Walks a PostgreSQL message stream chunk by chunk, reading only the 5-byte headers, except for
// the message types the owner asks to see whole (ReadyForQuery, ParameterStatus, ...). Bulk
// messages (DataRow, CopyData) pass through in pieces as they arrive, so a large result never
// has to fit in a buffer. Pure state machine; one per direction of a connection.
#pragma once

#include <bitset>
#include <cstdint>
#include <span>
#include <string_view>

namespace storegate::proxy {

class MessageScanner {
  public:
    enum class Kind {
        kPass,      // bytes to pass on unchanged: whole messages or a piece of a bulk one
        kWhole,     // one complete message of a type the owner asked to see
        kNeedMore,  // the rest of the buffer is an incomplete header or whole-wanted message
        kInvalid,   // a length below 4 or above the limit: the stream is out of sync
    };

    struct Item {
        Kind kind = Kind::kNeedMore;
        char type = 0;          // kWhole; for kPass, the type of the first message it starts
        size_t size = 0;        // bytes this item covers from the position given to next()
        size_t need = 0;        // kNeedMore: total bytes the pending message needs, if known
        std::string_view body;  // kWhole only
        int messages = 0;       // kPass: how many messages start within it
    };

    MessageScanner(uint32_t max_length, std::initializer_list<char> whole_types,
                   std::initializer_list<char> marked_types = {});

    void want_whole(char type, bool yes);
    // Marked types pass through without buffering but each starts its own item, so the owner
    // sees every one of them (e.g. Execute, Flush) without paying for their bodies.
    void mark(char type, bool yes);
    // Scans buf[pos..]. Pass items merge consecutive pass-through messages into one run.
    Item next(std::span<const uint8_t> buf, size_t pos);
    // True when the stream is at a message boundary (nothing of a message pending).
    bool at_boundary() const { return remaining_ == 0; }
    void reset() { remaining_ = 0; }

  private:
    uint32_t max_length_;
    std::bitset<256> whole_;
    std::bitset<256> marked_;
    size_t remaining_ = 0;  // bytes of a passing message not yet seen
};

}  // namespace storegate::proxy
