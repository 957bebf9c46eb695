#include "proxy/admin_views.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "proxy/router.h"
#include "proxy/services.h"

namespace storegate::proxy {

namespace json = boost::json;

std::string wall_time(Clock::time_point when) {
    auto wall =
        std::chrono::system_clock::now() -
        std::chrono::duration_cast<std::chrono::system_clock::duration>(Clock::now() - when);
    std::time_t t = std::chrono::system_clock::to_time_t(wall);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

namespace {

std::string_view kind_name(registry::BackendKind kind) {
    return kind == registry::BackendKind::kShared ? "shared" : "dedicated";
}

int64_t micros(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// "ip:port" -> (ip, port); a Unix-domain peer keeps its name and port 0.
std::pair<std::string, int64_t> split_address(const std::string& address) {
    size_t colon = address.rfind(':');
    if (address.starts_with("unix:") || colon == std::string::npos) {
        return {address, 0};
    }
    return {address.substr(0, colon), std::atoll(address.c_str() + colon + 1)};
}

// Client counts of one db_key or store, from one pass over the sessions.
struct ClientCounts {
    int64_t active = 0;
    int64_t waiting = 0;
    int64_t idle = 0;
    int64_t pinned = 0;
    std::array<int64_t, kPinReasonCount> by_reason{};
    Clock::duration max_wait{0};
};

void count(ClientCounts& c, const SessionInfo& s, Clock::time_point now) {
    c.active += s.state == ClientState::kActive;
    c.idle += s.state == ClientState::kIdle;
    if (s.state == ClientState::kWaiting) {
        ++c.waiting;
        c.max_wait = std::max(c.max_wait, now - s.state_since);
    }
    c.pinned += s.pins != 0;
    for (size_t i = 0; i < kPinReasonCount; ++i) {
        c.by_reason[i] += (s.pins >> i) & 1u;
    }
}

std::map<std::string, ClientCounts> counts_by(const std::vector<SessionInfo>& sessions,
                                              std::string SessionInfo::*key) {
    std::map<std::string, ClientCounts> out;
    auto now = Clock::now();
    for (const auto& s : sessions) {
        if (!(s.*key).empty()) {
            count(out[s.*key], s, now);
        }
    }
    return out;
}

std::string_view store_state(const registry::Store& store, bool routable) {
    if (store.status != "active") {
        return store.status;
    }
    if (store.paused) {
        return "paused";
    }
    return routable ? "active" : "unrouted";
}

json::object store_row(const registry::Store& store, const registry::Backend* backend,
                       const ClientCounts& clients) {
    return {{"id", store.id.to_string()},
            {"slug", store.slug},
            {"name", store.name},
            {"tenant_id", store.tenant_id.to_string()},
            {"state", store_state(store, backend != nullptr)},
            {"status", store.status},
            {"paused", store.paused},
            {"db_key", store.db_key},
            {"kind", backend ? json::value(kind_name(backend->kind)) : json::value(nullptr)},
            {"clients", clients.active + clients.waiting + clients.idle},
            {"cl_active", clients.active},
            {"cl_waiting", clients.waiting},
            {"pinned", clients.pinned}};
}

}  // namespace

View pools_view(Services& services) {
    View view{{"database", "user", "cl_active", "cl_waiting", "cl_idle", "sv_active", "sv_idle",
               "sv_total", "maxwait", "maxwait_us", "pool_mode", "pool_size", "waits",
               "wait_timeouts", "connect_failures"},
              {}};
    auto config = services.runtime()->config;
    auto clients = counts_by(services.sessions.list(), &SessionInfo::db_key);
    for (const auto& pool : services.pools.all()) {
        const std::string& key = pool->db_key();
        auto stats = pool->stats();
        auto backend = services.routing.find_backend(key);
        const ClientCounts& c = clients[key];
        auto wait_us = micros(c.max_wait);
        view.rows.push_back(
            json::object{{"database", key},
                         {"user", backend ? json::value(backend->username) : json::value(nullptr)},
                         {"cl_active", c.active},
                         {"cl_waiting", c.waiting},
                         {"cl_idle", c.idle},
                         {"sv_active", stats.active},
                         {"sv_idle", stats.idle},
                         {"sv_total", stats.total},
                         {"maxwait", wait_us / 1000000},
                         {"maxwait_us", wait_us % 1000000},
                         {"pool_mode", config::to_string(config->mode_for(key))},
                         {"pool_size", config->size_for(key)},
                         {"waits", stats.waits},
                         {"wait_timeouts", stats.timeouts},
                         {"connect_failures", stats.connect_failures}});
    }
    return view;
}

View clients_view(Services& services) {
    View view{{"type", "id", "user", "database", "store", "store_id", "db_key", "state", "addr",
               "port", "connect_time", "request_time", "wait", "wait_us", "link", "remote_pid",
               "pinned", "application_name", "source"},
              {}};
    auto now = Clock::now();
    auto sessions = services.sessions.list();
    std::sort(sessions.begin(), sessions.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& s : sessions) {
        auto [addr, port] = split_address(s.client);
        auto wait_us = s.state == ClientState::kWaiting ? micros(now - s.state_since) : 0;
        view.rows.push_back(json::object{
            {"type", "C"},
            {"id", s.id},
            {"user", s.user},
            {"database", s.database},
            {"store", s.store_slug},
            {"store_id", s.store_id},
            {"db_key", s.db_key},
            {"state", to_string(s.state)},
            {"addr", addr},
            {"port", port},
            {"connect_time", wall_time(s.connected_at)},
            {"request_time", wall_time(s.state_since)},
            {"wait", wait_us / 1000000},
            {"wait_us", wait_us % 1000000},
            {"link", s.server_id ? json::value(s.server_id) : json::value(nullptr)},
            {"remote_pid", s.backend_pid ? json::value(s.backend_pid) : json::value(nullptr)},
            {"pinned", pin_list(s.pins)},
            {"application_name", s.application_name},
            {"source", s.source}});
    }
    return view;
}

View servers_view(Services& services) {
    View view{{"type", "id", "user", "database", "state", "addr", "port", "connect_time",
               "request_time", "link", "remote_pid"},
              {}};
    for (const auto& s : services.sessions.list()) {
        if (s.state != ClientState::kActive || s.server_id == 0) {
            continue;
        }
        auto backend = services.routing.find_backend(s.db_key);
        view.rows.push_back(
            json::object{{"type", "S"},
                         {"id", s.server_id},
                         {"user", backend ? json::value(backend->username) : json::value(nullptr)},
                         {"database", s.db_key},
                         {"state", "active"},
                         {"addr", s.server_host},
                         {"port", s.server_port},
                         {"connect_time", wall_time(s.server_connected_at)},
                         {"request_time", wall_time(s.state_since)},
                         {"link", s.id},
                         {"remote_pid", s.backend_pid}});
    }
    for (const auto& pool : services.pools.all()) {
        auto backend = services.routing.find_backend(pool->db_key());
        for (const auto& idle : pool->idle_servers()) {
            view.rows.push_back(json::object{
                {"type", "S"},
                {"id", idle.id},
                {"user", backend ? json::value(backend->username) : json::value(nullptr)},
                {"database", pool->db_key()},
                {"state", "idle"},
                {"addr", backend ? json::value(backend->host) : json::value(nullptr)},
                {"port", backend ? json::value(backend->port) : json::value(nullptr)},
                {"connect_time", wall_time(idle.created)},
                {"request_time", wall_time(idle.last_used)},
                {"link", nullptr},
                {"remote_pid", idle.backend_pid}});
        }
    }
    return view;
}

View stats_view(Services& services) {
    View view{{"database", "total_xact_count", "total_query_count", "total_received", "total_sent",
               "total_xact_time", "total_query_time", "total_wait_time"},
              {}};
    for (const auto& t : services.metrics.totals()) {
        view.rows.push_back(
            json::object{{"database", t.db_key},
                         {"total_xact_count", t.transactions},
                         {"total_query_count", t.queries},
                         {"total_received", t.bytes_received},
                         {"total_sent", t.bytes_sent},
                         {"total_xact_time", static_cast<int64_t>(t.transaction_seconds * 1e6)},
                         {"total_query_time", static_cast<int64_t>(t.query_seconds * 1e6)},
                         {"total_wait_time", static_cast<int64_t>(t.wait_seconds * 1e6)}});
    }
    return view;
}

// Limitation: the listing copies and sorts every store of the routing table on each call, and
// SHOW STORES sends all of them - matters with hundreds of thousands of stores, where GET
// /v1/stores?offset=&limit= or SHOW ROUTE <store> are the ways to look.
View stores_view(Services& services, size_t offset, size_t limit) {
    View view{{"id", "slug", "name", "tenant_id", "state", "status", "paused", "db_key", "kind",
               "clients", "cl_active", "cl_waiting", "pinned"},
              {}};
    auto stores = services.routing.stores();
    std::sort(stores.begin(), stores.end(),
              [](const auto& a, const auto& b) { return a->slug < b->slug; });
    auto clients = counts_by(services.sessions.list(), &SessionInfo::store_id);
    for (size_t i = offset; i < stores.size() && i - offset < limit; ++i) {
        const auto& store = *stores[i];
        auto route = services.routing.find_store(store.id.to_string());
        auto backend = route ? route->backend : nullptr;
        view.rows.push_back(store_row(store, backend.get(), clients[store.id.to_string()]));
    }
    return view;
}

std::optional<json::object> store_detail(Services& services, const std::string& key) {
    auto route = services.routing.find_store(key);
    if (!route) {
        return std::nullopt;
    }
    std::string id = route->store->id.to_string();
    auto clients = counts_by(services.sessions.list(), &SessionInfo::store_id);
    const ClientCounts& c = clients[id];
    json::object out = store_row(*route->store, route->backend.get(), c);
    json::object pinning;
    for (size_t i = 0; i < kPinReasonCount; ++i) {
        pinning[to_string(static_cast<PinReason>(i))] = c.by_reason[i];
    }
    out["pinning"] = std::move(pinning);
    if (route->backend) {
        const auto& b = *route->backend;
        out["backend"] =
            json::object{{"db_key", b.db_key}, {"kind", kind_name(b.kind)},   {"host", b.host},
                         {"port", b.port},     {"database", b.database_name}, {"status", b.status}};
    } else {
        out["backend"] = nullptr;
    }
    out["registry_version"] = services.routing.version();
    return out;
}

View route_view(Services& services, const std::string& key) {
    View view{{"store", "slug", "state", "db_key", "kind", "host", "port", "database", "reason",
               "registry", "registry_version"},
              {}};
    auto route = services.routing.find_store(key);
    if (!route) {
        return view;
    }
    const auto& store = *route->store;
    RouteDecision decision;
    auto refused = resolve_store(key, services.routing, decision);
    const registry::Backend* b = route->backend.get();
    std::string reason = refused ? refused->message
                                 : "store_db_routing maps the store to db_key \"" + store.db_key +
                                       "\", an active db_connections row";
    bool file = services.runtime()->config->registry.dsn.empty();
    view.rows.push_back(
        json::object{{"store", store.id.to_string()},
                     {"slug", store.slug},
                     {"state", store_state(store, b != nullptr)},
                     {"db_key", store.db_key},
                     {"kind", b ? json::value(kind_name(b->kind)) : json::value(nullptr)},
                     {"host", b ? json::value(b->host) : json::value(nullptr)},
                     {"port", b ? json::value(b->port) : json::value(nullptr)},
                     {"database", b ? json::value(b->database_name) : json::value(nullptr)},
                     {"reason", reason},
                     {"registry", file ? "file" : "postgresql"},
                     {"registry_version", services.routing.version()}});
    return view;
}

View help_view() {
    View view{{"command", "description"}, {}};
    static const std::pair<const char*, const char*> kCommands[] = {
        {"SHOW POOLS", "server connections and clients per db_key"},
        {"SHOW CLIENTS", "every client connection"},
        {"SHOW SERVERS", "every server connection, in use or idle"},
        {"SHOW STATS", "totals per db_key: transactions, queries, bytes, times (us)"},
        {"SHOW STORES", "every store: route, state, clients, pinning"},
        {"SHOW ROUTE <store>", "the backend a store's sessions get, and why"},
        {"SHOW INSTANCES", "storegate instances registered in the registry"},
        {"PAUSE <store>", "new transactions of the store wait until RESUME"},
        {"RESUME <store>", "lifts a pause"},
        {"RELOAD", "re-reads the configuration file"},
        {"SET log_level = <level>", "trace, debug, info, warn, error or off"},
        {"SHOW HELP", "this list"},
    };
    for (const auto& [command, description] : kCommands) {
        view.rows.push_back(json::object{{"command", command}, {"description", description}});
    }
    return view;
}

}  // namespace storegate::proxy
