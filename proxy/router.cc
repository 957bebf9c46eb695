#include "proxy/router.h"

#include <algorithm>

#include "protocol/frontend.h"

namespace storegate::proxy {

namespace {

constexpr std::string_view kStoreSetting = "storegate.store";
constexpr std::string_view kTenantSetting = "storegate.tenant";

bool is_storegate_setting(std::string_view name) {
    return name.starts_with("storegate.");
}

// Startup parameters that are about the connection itself, not settings of the session.
bool is_connection_param(std::string_view name) {
    return name == "user" || name == "database" || name == "options" || name == "replication" ||
           name.starts_with("_pq_.");
}

struct Candidate {
    TargetKind kind = TargetKind::kNone;
    std::string key;
};

Candidate from_options(const RouteRequest& req,
                       const std::vector<std::pair<std::string, std::string>>& settings) {
    Candidate c;
    for (const auto& [name, value] : settings) {
        if (name == kStoreSetting && !value.empty()) {
            return {TargetKind::kStore, value};
        }
        if (name == kTenantSetting && !value.empty()) {
            c = {TargetKind::kTenant, value};
        }
    }
    return c;
}

Candidate from_user(const std::string& user, const std::string& sep, std::string& role) {
    if (sep.empty()) {
        return {};
    }
    size_t at = user.rfind(sep);
    if (at == std::string::npos || at == 0 || at + sep.size() >= user.size()) {
        return {};
    }
    role = user.substr(0, at);
    return {TargetKind::kStore, user.substr(at + sep.size())};
}

Candidate from_database(const std::string& db, const std::string& prefix) {
    if (prefix.empty() || !db.starts_with(prefix) || db.size() == prefix.size()) {
        return {};
    }
    return {TargetKind::kStore, db.substr(prefix.size())};
}

Candidate from_sni(const std::string& sni, const std::string& suffix) {
    if (suffix.empty() || sni.size() <= suffix.size() + 1 || !sni.ends_with(suffix) ||
        sni[sni.size() - suffix.size() - 1] != '.') {
        return {};
    }
    return {TargetKind::kStore, sni.substr(0, sni.size() - suffix.size() - 1)};
}

protocol::ErrorFields fatal(std::string_view code, std::string message, std::string hint = "") {
    return {"FATAL", std::string(code), std::move(message), "", std::move(hint)};
}

}  // namespace

RouteRequest parse_route_request(const protocol::StartupPacket& packet,
                                 const config::RoutingConfig& routing, const std::string& sni) {
    RouteRequest req;
    req.role = std::string(packet.param("user"));
    req.database = std::string(packet.param("database"));
    std::vector<std::pair<std::string, std::string>> storegate_settings;
    std::vector<protocol::StartupOption> options;
    protocol::parse_options(packet.param("options"), options, req.ignored_options);
    for (const auto& [name, value] : packet.params) {
        if (is_storegate_setting(name)) {
            storegate_settings.emplace_back(name, value);
        } else if (!is_connection_param(name)) {
            req.session_params.emplace_back(name, value);
        }
    }
    for (auto& opt : options) {
        if (is_storegate_setting(opt.name)) {
            storegate_settings.emplace_back(opt.name, opt.value);
        } else {
            req.session_params.emplace_back(opt.name, opt.value);
        }
    }
    // With the user source on, the part after the last separator is never part of the role,
    // whichever source names the store: one rule, whatever else the client sends.
    std::string split_role = req.role;
    Candidate user_candidate;
    bool user_source = std::find(routing.sources.begin(), routing.sources.end(),
                                 config::RoutingSource::kUser) != routing.sources.end();
    if (user_source) {
        user_candidate = from_user(req.role, routing.user_separator, split_role);
        req.role = split_role;
    }
    for (auto source : routing.sources) {
        Candidate c;
        switch (source) {
            case config::RoutingSource::kOptions:
                c = from_options(req, storegate_settings);
                break;
            case config::RoutingSource::kUser:
                c = user_candidate;
                break;
            case config::RoutingSource::kDatabase:
                c = from_database(req.database, routing.database_prefix);
                break;
            case config::RoutingSource::kSni:
                c = from_sni(sni, routing.sni_suffix);
                break;
        }
        if (c.kind != TargetKind::kNone) {
            req.kind = c.kind;
            req.key = std::move(c.key);
            req.source = std::string(config::to_string(source));
            break;
        }
    }
    return req;
}

std::optional<protocol::ErrorFields> resolve_store(const std::string& key,
                                                   const registry::RoutingTable& table,
                                                   RouteDecision& out) {
    auto route = table.find_store(key);
    if (!route) {
        return fatal(protocol::sqlstate::kInvalidCatalogName,
                     "store \"" + key + "\" does not exist");
    }
    if (route->store->status == "disabled" || route->store->status == "deleted") {
        return fatal(protocol::sqlstate::kConnectionRejected,
                     "store \"" + key + "\" is " + route->store->status);
    }
    if (!route->backend) {
        return fatal(protocol::sqlstate::kConnectionRejected,
                     "store \"" + key + "\" has no usable database route",
                     "Check store_db_routing and the status of its db_connections row.");
    }
    out.store = route->store;
    out.backend = route->backend;
    return std::nullopt;
}

std::optional<protocol::ErrorFields> resolve_route(const RouteRequest& request,
                                                   const config::RoutingConfig& routing,
                                                   const registry::RoutingTable& table,
                                                   RouteDecision& out) {
    out.source = request.source;
    if (request.kind == TargetKind::kStore) {
        return resolve_store(request.key, table, out);
    }
    if (request.kind == TargetKind::kTenant) {
        auto tenant = table.find_tenant(request.key);
        if (!tenant) {
            return fatal(protocol::sqlstate::kInvalidCatalogName,
                         "tenant \"" + request.key + "\" does not exist");
        }
        auto backend =
            tenant->common_db_key.empty() ? nullptr : table.find_backend(tenant->common_db_key);
        if (!backend) {
            return fatal(protocol::sqlstate::kConnectionRejected,
                         "tenant \"" + request.key + "\" has no common database");
        }
        out.tenant = std::move(tenant);
        out.backend = std::move(backend);
        return std::nullopt;
    }
    if (!routing.default_db_key.empty()) {
        out.backend = table.find_backend(routing.default_db_key);
        out.source = "default";
        if (out.backend) {
            return std::nullopt;
        }
        return fatal(protocol::sqlstate::kConnectionRejected,
                     "default db_key \"" + routing.default_db_key + "\" is not in the registry");
    }
    return fatal(protocol::sqlstate::kConnectionRejected, "no store named in the connection",
                 "Name the store with options='-c storegate.store=<store>', user=<role>" +
                     routing.user_separator + "<store>, dbname=" + routing.database_prefix +
                     "<store>" +
                     (routing.sni_suffix.empty() ? "" : ", or host=<store>." + routing.sni_suffix) +
                     "; <store> is the store's uuid or slug.");
}

std::string set_statements(const std::vector<std::pair<std::string, std::string>>& params) {
    // set_config() takes the value as the server takes a startup option (a list setting such
    // as search_path is parsed as a list), unlike SET with a quoted literal.
    std::string sql = "SELECT ";
    for (size_t i = 0; i < params.size(); ++i) {
        sql += i == 0 ? "" : ", ";
        sql += "pg_catalog.set_config(" + protocol::quote_literal(params[i].first) + ", " +
               protocol::quote_literal(params[i].second) + ", false)";
    }
    return sql;
}

}  // namespace storegate::proxy
