// Decides where a client goes, from its startup packet (DESIGN "Routing"): which role it logs
// in as, which store or tenant it names and through which source, and which backend serves it.
// Pure functions over the configuration and the routing table; no I/O.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "protocol/errors.h"
#include "protocol/startup.h"
#include "registry/routing_table.h"

namespace storegate::proxy {

enum class TargetKind { kNone, kStore, kTenant };

// What the startup packet says, before authentication.
struct RouteRequest {
    std::string role;  // the user to authenticate (the user source strips its store suffix)
    std::string database;
    TargetKind kind = TargetKind::kNone;
    std::string key;          // store or tenant key as the client wrote it
    std::string source = "";  // options, user, database, sni; empty when none
    // Startup parameters and -c options for the server session, storegate.* removed.
    std::vector<std::pair<std::string, std::string>> session_params;
    std::vector<std::string> ignored_options;  // words in `options` other than -c settings
};

// Where the client goes, after the registry lookup.
struct RouteDecision {
    std::shared_ptr<const registry::Store> store;
    std::shared_ptr<const registry::Tenant> tenant;
    std::shared_ptr<const registry::Backend> backend;
    std::string source;  // as in RouteRequest, or "default"
};

RouteRequest parse_route_request(const protocol::StartupPacket& packet,
                                 const config::RoutingConfig& routing, const std::string& sni);

// On failure returns the error to send (3D000 unknown store/tenant, 08004 nothing to route by).
std::optional<protocol::ErrorFields> resolve_route(const RouteRequest& request,
                                                   const config::RoutingConfig& routing,
                                                   const registry::RoutingTable& table,
                                                   RouteDecision& out);

// Resolves a store key alone (used by SET storegate.store and the admin surface).
std::optional<protocol::ErrorFields> resolve_store(const std::string& key,
                                                   const registry::RoutingTable& table,
                                                   RouteDecision& out);

// One statement that applies the session parameters as startup options would.
std::string set_statements(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace storegate::proxy
