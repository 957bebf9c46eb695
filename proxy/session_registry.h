// The live client sessions, for SHOW CLIENTS / SHOW SERVERS, GET /v1/clients and the client
// gauges. A session owns one SessionEntry and updates it when its state changes (login, waiting
// for a server, holding one, idle, pinned), never per message; readers copy snapshots. Per-state
// and per-pin-reason counts are kept as atomics so that a scrape costs O(1).
// Thread-safe: entries are written on their session's thread and read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/net.h"

namespace storegate::proxy {

enum class ClientState : uint8_t {
    kLogin,    // startup and authentication
    kWaiting,  // queued for a server connection
    kActive,   // holding a server connection
    kIdle,     // logged in, holding no server connection (transaction pooling, paused stores)
    kConsole,  // in the SQL admin console
};
inline constexpr size_t kClientStateCount = 5;

// Why a transaction-pooled client keeps its server connection between transactions.
enum class PinReason : uint8_t {
    kListen,
    kAdvisoryLock,
    kTempTable,
    kWithHoldCursor,
    kSqlPrepare,
};
inline constexpr size_t kPinReasonCount = 5;

std::string_view to_string(ClientState state);
std::string_view to_string(PinReason reason);
// "listen,temp_table" for a pin bit set; "" when not pinned.
std::string pin_list(uint32_t pins);

// What a session looks like at one moment.
struct SessionInfo {
    uint64_t id = 0;
    int worker = 0;
    std::string client;  // "ip:port" or "unix:path"
    std::string user;
    std::string database;
    std::string application_name;
    std::string store_id;  // empty when the session names no store
    std::string store_slug;
    std::string tenant_id;
    std::string db_key;
    std::string source;  // routing source: options, user, database, sni, default
    ClientState state = ClientState::kLogin;
    uint32_t pins = 0;  // bit i set: pinned for PinReason(i)
    Clock::time_point connected_at;
    Clock::time_point state_since;
    // The server connection held, while kActive.
    uint64_t server_id = 0;
    int32_t backend_pid = 0;
    std::string server_host;
    int server_port = 0;
    Clock::time_point server_connected_at;
};

class SessionRegistry;

class SessionEntry {
  public:
    SessionEntry(SessionRegistry& registry, SessionInfo info)
        : registry_(registry), info_(std::move(info)) {}

    void set_login(std::string user, std::string database, std::string application_name);
    void set_route(std::string store_id, std::string store_slug, std::string tenant_id,
                   std::string db_key, std::string source);
    void set_state(ClientState state);
    // Moves to kActive with the server connection's identity.
    void set_server(uint64_t server_id, int32_t backend_pid, std::string host, int port,
                    Clock::time_point connected_at);
    // Leaves kActive for `state` and forgets the server connection.
    void clear_server(ClientState state);
    void pin(PinReason reason);
    void unpin(PinReason reason);
    void unpin_all();
    SessionInfo snapshot() const;

  private:
    friend class SessionRegistry;
    void set_state_locked(ClientState state);
    void set_pins_locked(uint32_t pins);

    SessionRegistry& registry_;
    mutable std::mutex mutex_;
    SessionInfo info_;
};

class SessionRegistry {
  public:
    std::shared_ptr<SessionEntry> add(uint64_t id, int worker, std::string client);
    // Drops the entry and its share of the state and pin counts.
    void remove(const std::shared_ptr<SessionEntry>& entry);

    std::vector<SessionInfo> list() const;
    size_t size() const;
    int64_t count(ClientState state) const {
        return states_[static_cast<size_t>(state)].load(std::memory_order_relaxed);
    }
    int64_t pinned(PinReason reason) const {
        return pins_[static_cast<size_t>(reason)].load(std::memory_order_relaxed);
    }

  private:
    friend class SessionEntry;
    void move_state(ClientState from, ClientState to);
    void move_pins(uint32_t from, uint32_t to);

    mutable std::mutex mutex_;
    std::unordered_map<uint64_t, std::shared_ptr<SessionEntry>> entries_;
    std::array<std::atomic<int64_t>, kClientStateCount> states_{};
    std::array<std::atomic<int64_t>, kPinReasonCount> pins_{};
};

}  // namespace storegate::proxy
