// What the admin surface shows, built once and rendered twice: as JSON by the HTTP API and as
// result sets by the SQL console. Column names follow PgBouncer's SHOW output where the concept
// is the same (database, user, cl_active, sv_idle, total_xact_count, ...); the JSON objects use
// the same names as keys.
// Read-only snapshots of thread-safe state; callable from any thread.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "proxy/net.h"

namespace storegate::proxy {

class Services;

struct View {
    std::vector<std::string> columns;
    boost::json::array rows;  // one object per row, keyed by column name
};

View pools_view(Services& services);
View clients_view(Services& services);
View servers_view(Services& services);
View stats_view(Services& services);
// Stores ordered by slug, `limit` of them from `offset`.
View stores_view(Services& services, size_t offset, size_t limit);
// One store (uuid or slug) with its backend and who uses it; nothing when unknown.
std::optional<boost::json::object> store_detail(Services& services, const std::string& key);
// SHOW ROUTE: the backend a new session of the store gets, and why; an empty view when the
// store is unknown.
View route_view(Services& services, const std::string& key);
View help_view();

// An ISO 8601 UTC time for a steady-clock instant (for connect_time and the like).
std::string wall_time(Clock::time_point when);

}  // namespace storegate::proxy
