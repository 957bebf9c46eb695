// Loading and validation of the TOML configuration. Every problem is collected into one list so
// that an operator fixes a file in one pass instead of one error per restart.
#include "config/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/section_reader.h"

namespace storegate::config {

namespace {

constexpr EnumName<PoolMode> kPoolModes[] = {
    {"session", PoolMode::kSession},
    {"transaction", PoolMode::kTransaction},
};
constexpr EnumName<RoutingSource> kRoutingSources[] = {
    {"options", RoutingSource::kOptions},
    {"user", RoutingSource::kUser},
    {"database", RoutingSource::kDatabase},
    {"sni", RoutingSource::kSni},
};
constexpr EnumName<AuthType> kAuthTypes[] = {
    {"scram-sha-256", AuthType::kScramSha256},
    {"md5", AuthType::kMd5},
    {"trust", AuthType::kTrust},
    {"cert", AuthType::kCert},
};
constexpr EnumName<Pinning> kPinnings[] = {
    {"allow", Pinning::kAllow},
    {"error", Pinning::kError},
};
constexpr EnumName<TlsClientMode> kTlsClientModes[] = {
    {"disable", TlsClientMode::kDisable},
    {"allow", TlsClientMode::kAllow},
    {"require", TlsClientMode::kRequire},
};
constexpr EnumName<log::Level> kLogLevels[] = {
    {"trace", log::Level::kTrace}, {"debug", log::Level::kDebug}, {"info", log::Level::kInfo},
    {"warn", log::Level::kWarn},   {"error", log::Level::kError}, {"off", log::Level::kOff},
};

template <typename E, size_t N>
std::string_view name_of(const EnumName<E> (&names)[N], E value) {
    for (const auto& entry : names) {
        if (entry.value == value) {
            return entry.name;
        }
    }
    return "unknown";
}

// Accepts "ipv4:port" and "[ipv6]:port"; the port must be a number in 0..65535 (0 lets the
// kernel choose, which tests use). Host names are refused: listeners bind to addresses, and a
// name that resolves differently later would change what storegate listens on.
bool is_listen_address(std::string_view text) {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
        return false;
    }
    std::string host(text.substr(0, colon));
    std::string_view port = text.substr(colon + 1);
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(std::string(port)) > 65535) {
        return false;
    }
    unsigned char address[sizeof(in6_addr)];
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        return ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), address) == 1;
    }
    return ::inet_pton(AF_INET, host.c_str(), address) == 1;
}

void check_listen(SectionReader& r, const std::string& listen) {
    if (!is_listen_address(listen)) {
        r.error("listen",
                "expected an IP address and port such as 127.0.0.1:6432 or [::1]:6432, "
                "got \"" +
                    listen + "\"");
    }
}

void read_server(SectionReader r, ServerConfig& s) {
    r.string("listen", s.listen);
    r.string("unix_socket_dir", s.unix_socket_dir);
    r.integer("threads", s.threads, 0, 1024);
    r.millis("startup_timeout", s.startup_timeout, 1);
    r.millis("shutdown_timeout", s.shutdown_timeout, 0);
    r.integer("max_client_conn", s.max_client_conn, 1, 10'000'000);
    r.integer("max_client_conn_per_addr", s.max_client_conn_per_addr, 0, 10'000'000);
    int64_t max_message = s.max_message_size;
    // PostgreSQL itself refuses messages above 1 GB; below 8 kB ordinary queries fail.
    r.integer("max_message_size", max_message, 8192, int64_t{1} << 30);
    s.max_message_size = static_cast<uint32_t>(max_message);
    r.string("instance_id", s.instance_id);
    check_listen(r, s.listen);
    r.finish();
}

void read_admin(SectionReader r, AdminConfig& a) {
    r.string("listen", a.listen);
    r.string("token", a.token);
    r.string_list("admin_users", a.admin_users);
    r.integer("store_metrics_limit", a.store_metrics_limit, 0, 1'000'000);
    check_listen(r, a.listen);
    r.finish();
}

void read_registry(SectionReader r, RegistryConfig& g) {
    r.string("dsn", g.dsn);
    r.path("file", g.file);
    r.millis("negative_cache_ttl", g.negative_cache_ttl, 0);
    r.millis("refresh_interval", g.refresh_interval, 1);
    if (g.dsn.empty() == g.file.empty()) {
        r.error(g.dsn.empty() ? "" : "file",
                "exactly one of registry.dsn and registry.file must be set");
    }
    r.finish();
}

void read_pool_override(SectionReader r, PoolOverride& o) {
    PoolMode mode = PoolMode::kSession;
    if (r.enumeration("mode", mode, kPoolModes)) {
        o.mode = mode;
    }
    int size = 0;
    if (r.integer("size", size, 1, 100'000)) {
        o.size = size;
    }
    r.finish();
}

void read_pool_overrides(SectionReader& r, PoolConfig& p) {
    const toml::table* db = r.subtable("db");
    if (db == nullptr) {
        return;
    }
    for (const auto& [key, node] : *db) {
        std::string db_key(key.str());
        const toml::table* table = node.as_table();
        if (table == nullptr) {
            r.error_at("db." + db_key, node, "expected a table [pool.db." + db_key + "]");
            continue;
        }
        read_pool_override(r.child("db." + db_key, table), p.overrides[db_key]);
    }
}

void read_pool(SectionReader r, PoolConfig& p) {
    r.enumeration("mode", p.mode, kPoolModes);
    r.integer("size", p.size, 1, 100'000);
    r.integer("min_size", p.min_size, 0, 100'000);
    r.millis("wait_timeout", p.wait_timeout, 0);
    r.millis("idle_timeout", p.idle_timeout, 0);
    r.millis("lifetime", p.lifetime, 0);
    r.millis("connect_timeout", p.connect_timeout, 1);
    r.integer("max_pools", p.max_pools, 1, 10'000'000);
    r.string("reset_query", p.reset_query);
    r.enumeration("pinning", p.pinning, kPinnings);
    r.integer("prepared_cache_size", p.prepared_cache_size, 0, 1'000'000);
    read_pool_overrides(r, p);
    if (p.min_size > p.size) {
        r.error("min_size", "must not exceed pool.size (" + std::to_string(p.size) + ")");
    }
    r.finish();
}

// Returns whether routing.sources was written in the file.
bool read_routing(SectionReader r, RoutingConfig& g) {
    bool explicit_sources = r.enum_list("sources", g.sources, kRoutingSources);
    r.string("user_separator", g.user_separator);
    r.string("database_prefix", g.database_prefix);
    r.string("sni_suffix", g.sni_suffix);
    r.string("default_db_key", g.default_db_key);
    if (explicit_sources && g.sources.empty()) {
        r.error("sources", "must name at least one of options, user, database, sni");
    }
    std::set<RoutingSource> seen(g.sources.begin(), g.sources.end());
    if (seen.size() != g.sources.size()) {
        r.error("sources", "lists a source more than once");
    }
    if (g.user_separator.empty()) {
        r.error("user_separator", "must not be empty");
    }
    r.finish();
    return explicit_sources;
}

void read_auth(SectionReader r, AuthConfig& a) {
    r.enumeration("type", a.type, kAuthTypes);
    r.path("users_file", a.users_file);
    r.string("auth_query", a.auth_query);
    r.finish();
}

void read_tls(SectionReader r, TlsConfig& t) {
    r.path("cert_file", t.cert_file);
    r.path("key_file", t.key_file);
    r.path("ca_file", t.ca_file);
    r.enumeration("client_mode", t.client_mode, kTlsClientModes);
    std::string_view sslmode = t.server_sslmode;
    if (r.enumeration("server_sslmode", sslmode, kSslModes)) {
        t.server_sslmode = std::string(sslmode);
    }
    r.path("server_ca_file", t.server_ca_file);
    if (!t.cert_file.empty() && t.key_file.empty()) {
        r.error("cert_file", "tls.cert_file is set but tls.key_file is not");
    }
    if (t.cert_file.empty() && !t.key_file.empty()) {
        r.error("key_file", "tls.key_file is set but tls.cert_file is not");
    }
    if (t.client_mode == TlsClientMode::kRequire && !t.enabled()) {
        r.error("client_mode", "\"require\" needs tls.cert_file and tls.key_file");
    }
    r.finish();
}

void read_retarget(SectionReader r, RetargetConfig& t) {
    r.millis("drain_timeout", t.drain_timeout, 0);
    r.millis("pause_timeout", t.pause_timeout, 0);
    r.finish();
}

void read_log(SectionReader r, LogConfig& l) {
    r.enumeration("level", l.level, kLogLevels);
    r.finish();
}

// Records an error found by a check that spans sections, at the key's line (or its section's).
void report(ReadContext& ctx, const std::string& key, const std::string& message) {
    // A value that was already rejected would only produce a follow-on error here.
    for (const ConfigError& e : *ctx.errors) {
        if (e.key == key) {
            return;
        }
    }
    int line = ctx.line_of(key);
    if (line == 0) {
        line = ctx.line_of(key.substr(0, key.find('.')));
    }
    ctx.errors->push_back({key, line, message});
}

// `explicit_sources` says whether routing.sources came from the file: the default list names
// sni, which only applies once a suffix is configured.
void check_routing(Config& c, bool explicit_sources, ReadContext& ctx) {
    auto& sources = c.routing.sources;
    bool uses_sni = std::find(sources.begin(), sources.end(), RoutingSource::kSni) != sources.end();
    if (uses_sni && c.routing.sni_suffix.empty()) {
        if (explicit_sources) {
            report(ctx, "routing.sources", "the sni source needs routing.sni_suffix");
        } else {
            sources.erase(std::remove(sources.begin(), sources.end(), RoutingSource::kSni),
                          sources.end());
        }
    } else if (uses_sni && explicit_sources && !c.tls.enabled()) {
        report(ctx, "routing.sources", "the sni source needs TLS (tls.cert_file and tls.key_file)");
    }
}

void check_auth(const Config& c, ReadContext& ctx) {
    // Certificate authentication takes the user from the verified certificate, as PgBouncer's
    // auth_type=cert does, so it needs a CA to verify against rather than a user list.
    if (c.auth.type == AuthType::kCert) {
        if (!c.tls.enabled() || c.tls.ca_file.empty()) {
            report(ctx, "auth.type", "cert needs tls.cert_file, tls.key_file and tls.ca_file");
        }
    } else if (c.auth.type != AuthType::kTrust && c.auth.users_file.empty() &&
               c.auth.auth_query.empty()) {
        report(ctx, "auth.type",
               std::string(to_string(c.auth.type)) + " needs auth.users_file or auth.auth_query");
    }
    if (!c.auth.auth_query.empty() && c.registry.dsn.empty()) {
        report(ctx, "auth.auth_query", "runs on the registry database, so it needs registry.dsn");
    }
}

void read_document(const toml::table& root, Config& config, ReadContext& ctx) {
    SectionReader reader(ctx, "", &root);
    read_server(reader.section("server"), config.server);
    read_admin(reader.section("admin"), config.admin);
    read_registry(reader.section("registry"), config.registry);
    read_pool(reader.section("pool"), config.pool);
    bool explicit_sources = read_routing(reader.section("routing"), config.routing);
    read_auth(reader.section("auth"), config.auth);
    read_tls(reader.section("tls"), config.tls);
    read_retarget(reader.section("retarget"), config.retarget);
    read_log(reader.section("log"), config.log);
    reader.finish();
    check_routing(config, explicit_sources, ctx);
    check_auth(config, ctx);
}

std::filesystem::path folder_of(const std::string& path) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    return ec ? std::filesystem::path(path).parent_path() : absolute.parent_path();
}

}  // namespace

std::string ConfigError::to_string(const std::string& path) const {
    std::string out = path;
    if (line > 0) {
        out += ":" + std::to_string(line);
    }
    out += ": ";
    if (!key.empty()) {
        out += key + ": ";
    }
    return out + message;
}

PoolMode Config::mode_for(const std::string& db_key) const {
    auto it = pool.overrides.find(db_key);
    return it != pool.overrides.end() && it->second.mode ? *it->second.mode : pool.mode;
}

int Config::size_for(const std::string& db_key) const {
    auto it = pool.overrides.find(db_key);
    return it != pool.overrides.end() && it->second.size ? *it->second.size : pool.size;
}

LoadResult parse(const std::string& toml_text, const std::string& path) {
    LoadResult result;
    toml::table root;
    try {
        root = toml::parse(toml_text, path);
    } catch (const toml::parse_error& e) {
        int line = static_cast<int>(e.source().begin.line);
        result.errors.push_back({"", line, std::string(e.description())});
        return result;
    }
    Config config;
    config.path = path;
    ReadContext ctx{&result.errors, folder_of(path), {}};
    read_document(root, config, ctx);
    if (result.errors.empty()) {
        result.config = std::move(config);
        return result;
    }
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
    return result;
}

LoadResult load(const std::string& path) {
    std::error_code ec;
    std::ifstream in(path, std::ios::binary);
    if (!in || !std::filesystem::is_regular_file(path, ec)) {
        LoadResult result;
        std::string reason = ec ? ec.message() : std::strerror(errno);
        result.errors.push_back({"", 0, "cannot read the configuration file: " + reason});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

std::vector<std::string> restart_required(const Config& running, const Config& next) {
    std::vector<std::string> keys;
    auto check = [&](const char* key, const auto& a, const auto& b) {
        if (a != b) {
            keys.emplace_back(key);
        }
    };
    check("server.listen", running.server.listen, next.server.listen);
    check("server.unix_socket_dir", running.server.unix_socket_dir, next.server.unix_socket_dir);
    check("server.threads", running.server.threads, next.server.threads);
    check("server.instance_id", running.server.instance_id, next.server.instance_id);
    check("admin.listen", running.admin.listen, next.admin.listen);
    check("registry.dsn", running.registry.dsn, next.registry.dsn);
    check("registry.file", running.registry.file, next.registry.file);
    return keys;
}

std::string_view to_string(PoolMode mode) {
    return name_of(kPoolModes, mode);
}
std::string_view to_string(RoutingSource source) {
    return name_of(kRoutingSources, source);
}
std::string_view to_string(AuthType type) {
    return name_of(kAuthTypes, type);
}

}  // namespace storegate::config
