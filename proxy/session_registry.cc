#include "proxy/session_registry.h"

namespace storegate::proxy {

std::string_view to_string(ClientState state) {
    switch (state) {
        case ClientState::kLogin:
            return "login";
        case ClientState::kWaiting:
            return "waiting";
        case ClientState::kActive:
            return "active";
        case ClientState::kIdle:
            return "idle";
        case ClientState::kConsole:
            return "console";
    }
    return "unknown";
}

std::string_view to_string(PinReason reason) {
    switch (reason) {
        case PinReason::kListen:
            return "listen";
        case PinReason::kAdvisoryLock:
            return "advisory_lock";
        case PinReason::kTempTable:
            return "temp_table";
        case PinReason::kWithHoldCursor:
            return "with_hold_cursor";
        case PinReason::kSqlPrepare:
            return "sql_prepare";
    }
    return "unknown";
}

std::string pin_list(uint32_t pins) {
    std::string out;
    for (size_t i = 0; i < kPinReasonCount; ++i) {
        if (pins & (1u << i)) {
            out += out.empty() ? "" : ",";
            out += to_string(static_cast<PinReason>(i));
        }
    }
    return out;
}

void SessionEntry::set_login(std::string user, std::string database, std::string application_name) {
    std::lock_guard lock(mutex_);
    info_.user = std::move(user);
    info_.database = std::move(database);
    info_.application_name = std::move(application_name);
}

void SessionEntry::set_route(std::string store_id, std::string store_slug, std::string tenant_id,
                             std::string db_key, std::string source) {
    std::lock_guard lock(mutex_);
    info_.store_id = std::move(store_id);
    info_.store_slug = std::move(store_slug);
    info_.tenant_id = std::move(tenant_id);
    info_.db_key = std::move(db_key);
    info_.source = std::move(source);
}

void SessionEntry::set_state_locked(ClientState state) {
    if (state == info_.state) {
        return;
    }
    registry_.move_state(info_.state, state);
    info_.state = state;
    info_.state_since = Clock::now();
}

void SessionEntry::set_pins_locked(uint32_t pins) {
    if (pins != info_.pins) {
        registry_.move_pins(info_.pins, pins);
        info_.pins = pins;
    }
}

void SessionEntry::set_state(ClientState state) {
    std::lock_guard lock(mutex_);
    set_state_locked(state);
}

void SessionEntry::set_server(uint64_t server_id, int32_t backend_pid, std::string host, int port,
                              Clock::time_point connected_at) {
    std::lock_guard lock(mutex_);
    info_.server_id = server_id;
    info_.backend_pid = backend_pid;
    info_.server_host = std::move(host);
    info_.server_port = port;
    info_.server_connected_at = connected_at;
    set_state_locked(ClientState::kActive);
}

void SessionEntry::clear_server(ClientState state) {
    std::lock_guard lock(mutex_);
    info_.server_id = 0;
    info_.backend_pid = 0;
    info_.server_host.clear();
    info_.server_port = 0;
    set_state_locked(state);
}

void SessionEntry::pin(PinReason reason) {
    std::lock_guard lock(mutex_);
    set_pins_locked(info_.pins | (1u << static_cast<uint32_t>(reason)));
}

void SessionEntry::unpin(PinReason reason) {
    std::lock_guard lock(mutex_);
    set_pins_locked(info_.pins & ~(1u << static_cast<uint32_t>(reason)));
}

void SessionEntry::unpin_all() {
    std::lock_guard lock(mutex_);
    set_pins_locked(0);
}

SessionInfo SessionEntry::snapshot() const {
    std::lock_guard lock(mutex_);
    return info_;
}

std::shared_ptr<SessionEntry> SessionRegistry::add(uint64_t id, int worker, std::string client) {
    SessionInfo info;
    info.id = id;
    info.worker = worker;
    info.client = std::move(client);
    info.connected_at = Clock::now();
    info.state_since = info.connected_at;
    auto entry = std::make_shared<SessionEntry>(*this, std::move(info));
    states_[static_cast<size_t>(ClientState::kLogin)].fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mutex_);
    entries_[id] = entry;
    return entry;
}

void SessionRegistry::remove(const std::shared_ptr<SessionEntry>& entry) {
    {
        std::lock_guard lock(entry->mutex_);
        entry->set_pins_locked(0);
        states_[static_cast<size_t>(entry->info_.state)].fetch_sub(1, std::memory_order_relaxed);
    }
    std::lock_guard lock(mutex_);
    entries_.erase(entry->info_.id);
}

std::vector<SessionInfo> SessionRegistry::list() const {
    std::vector<std::shared_ptr<SessionEntry>> entries;
    {
        std::lock_guard lock(mutex_);
        entries.reserve(entries_.size());
        for (const auto& [id, entry] : entries_) {
            entries.push_back(entry);
        }
    }
    // Snapshots are taken outside the registry lock so a listing never stalls new sessions.
    std::vector<SessionInfo> out;
    out.reserve(entries.size());
    for (const auto& entry : entries) {
        out.push_back(entry->snapshot());
    }
    return out;
}

size_t SessionRegistry::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

void SessionRegistry::move_state(ClientState from, ClientState to) {
    states_[static_cast<size_t>(from)].fetch_sub(1, std::memory_order_relaxed);
    states_[static_cast<size_t>(to)].fetch_add(1, std::memory_order_relaxed);
}

void SessionRegistry::move_pins(uint32_t from, uint32_t to) {
    for (size_t i = 0; i < kPinReasonCount; ++i) {
        bool was = from & (1u << i);
        bool is = to & (1u << i);
        if (was != is) {
            pins_[i].fetch_add(is ? 1 : -1, std::memory_order_relaxed);
        }
    }
}

}  // namespace storegate::proxy
