// Maps the BackendKeyData storegate gave each client to the server connection currently
// serving it, so a CancelRequest reaches that backend, and only while it serves that client.
// Thread-safe: sessions on every thread register here, cancels arrive on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "proxy/net.h"

namespace storegate::proxy {

// Where a cancel for one client goes right now; empty while the client holds no server.
class CancelTarget {
  public:
    struct Backend {
        asio::generic::stream_protocol::endpoint endpoint;
        int32_t pid = 0;
        int32_t secret = 0;
    };
    void set(const Backend& backend);
    void clear();
    std::optional<Backend> get() const;

  private:
    mutable std::mutex mutex_;
    std::optional<Backend> backend_;
};

class CancelRegistry {
  public:
    // `instance_tag` (0-127) goes into the high bits of every key's pid, so a cancel that
    // reaches another storegate instance can tell which instance issued the key.
    explicit CancelRegistry(uint8_t instance_tag) : instance_tag_(instance_tag) {}

    struct Key {
        int32_t pid = 0;
        int32_t secret = 0;
    };
    Key add(std::shared_ptr<CancelTarget> target);
    void remove(int32_t pid);
    // The current target for a key; nothing if the key is unknown, the secret does not match
    // or the client holds no server connection.
    std::optional<CancelTarget::Backend> lookup(int32_t pid, int32_t secret) const;
    uint8_t instance_tag() const { return instance_tag_; }
    static uint8_t tag_of(int32_t pid) { return static_cast<uint8_t>((pid >> 23) & 0x7f); }

  private:
    struct Entry {
        int32_t secret;
        std::shared_ptr<CancelTarget> target;
    };
    uint8_t instance_tag_;
    mutable std::mutex mutex_;
    uint32_t next_ = 1;
    std::unordered_map<int32_t, Entry> entries_;
};

// Opens a connection to the backend and sends it a CancelRequest (protocol docs, "Canceling
// Requests in Progress"). Best effort, as in PostgreSQL: nothing is reported back.
awaitable<void> send_cancel(CancelTarget::Backend backend);

}  // namespace storegate::proxy
