// The TOML configuration (see README "Configuration") as plain values. A Config is immutable
// once loaded; a reload builds a new one and swaps it in.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"

namespace storegate::config {

using Millis = std::chrono::milliseconds;

enum class PoolMode { kSession, kTransaction };
enum class RoutingSource { kOptions, kUser, kDatabase, kSni };
enum class AuthType { kScramSha256, kMd5, kTrust, kCert };
enum class Pinning { kAllow, kError };
enum class TlsClientMode { kDisable, kAllow, kRequire };

struct ServerConfig {
    std::string listen = "127.0.0.1:6432";  // host:port; [::1]:port for IPv6
    std::string unix_socket_dir;            // empty: no Unix socket listener
    int threads = 0;                        // 0: one per core
    Millis startup_timeout{10000};
    Millis shutdown_timeout{30000};
    int max_client_conn = 10000;
    int max_client_conn_per_addr = 0;  // 0: unlimited
    uint32_t max_message_size = 64u << 20;
    std::string instance_id;  // empty: generated at start
};

struct AdminConfig {
    std::string listen = "127.0.0.1:9930";
    std::string token;  // a secret reference (env:NAME, file:PATH) or the token itself
    std::vector<std::string> admin_users;
    int store_metrics_limit = 100;
};

struct RegistryConfig {
    std::string dsn;   // PostgreSQL registry (control plane); exactly one of dsn and file is set
    std::string file;  // TOML file registry, the embedded default; an absolute path once loaded
    Millis negative_cache_ttl{2000};
    Millis refresh_interval{30000};  // full resync period, in addition to LISTEN/NOTIFY
};

struct PoolOverride {
    std::optional<PoolMode> mode;
    std::optional<int> size;
};

struct PoolConfig {
    PoolMode mode = PoolMode::kSession;
    int size = 20;  // server connections per db_key
    int min_size = 0;
    Millis wait_timeout{5000};
    Millis idle_timeout{600000};
    Millis lifetime{3600000};
    Millis connect_timeout{5000};
    int max_pools = 1000;  // idle pools beyond this are evicted, least recently used first
    std::string reset_query = "DISCARD ALL";
    Pinning pinning = Pinning::kAllow;
    int prepared_cache_size = 500;                  // per server connection
    std::map<std::string, PoolOverride> overrides;  // [pool.db.<db_key>]
};

struct RoutingConfig {
    std::vector<RoutingSource> sources = {RoutingSource::kOptions, RoutingSource::kUser,
                                          RoutingSource::kDatabase, RoutingSource::kSni};
    std::string user_separator = ".";
    std::string database_prefix = "store_";
    std::string sni_suffix;
    std::string default_db_key;
    // Database name the server session uses when the client named a store another way.
};

struct AuthConfig {
    AuthType type = AuthType::kScramSha256;
    std::string users_file;
    // Runs on the registry: SELECT usename, passwd FROM ... WHERE usename=$1
    std::string auth_query;
};

struct TlsConfig {
    std::string cert_file;
    std::string key_file;
    std::string ca_file;
    TlsClientMode client_mode = TlsClientMode::kAllow;
    std::string server_sslmode = "prefer";  // default for db_keys without their own
    std::string server_ca_file;
    bool enabled() const { return !cert_file.empty() && !key_file.empty(); }
};

struct RetargetConfig {
    Millis drain_timeout{30000};
    Millis pause_timeout{10000};
};

struct LogConfig {
    log::Level level = log::Level::kInfo;
};

struct Config {
    std::string path;  // file it was read from; relative paths inside resolve against its folder
    ServerConfig server;
    AdminConfig admin;
    RegistryConfig registry;
    PoolConfig pool;
    RoutingConfig routing;
    AuthConfig auth;
    TlsConfig tls;
    RetargetConfig retarget;
    LogConfig log;

    PoolMode mode_for(const std::string& db_key) const;
    int size_for(const std::string& db_key) const;
};

struct ConfigError {
    std::string key;  // dotted, e.g. "pool.mode"; empty for file-level errors
    int line = 0;     // 0 when unknown
    std::string message;
    std::string to_string(const std::string& path) const;  // "path:line: key: message"
};

struct LoadResult {
    std::optional<Config> config;     // set only when errors is empty
    std::vector<ConfigError> errors;  // every problem found, not just the first
};

// Reads, parses and validates. Unknown keys are errors (they are usually typos).
LoadResult load(const std::string& path);
LoadResult parse(const std::string& toml_text, const std::string& path);

// Keys whose new value in `next` only takes effect after a restart (listeners, thread count,
// instance id, registry source), for a SIGHUP reload to report instead of silently ignoring.
std::vector<std::string> restart_required(const Config& running, const Config& next);

std::string_view to_string(PoolMode mode);
std::string_view to_string(RoutingSource source);
std::string_view to_string(AuthType type);
std::string_view to_string(Pinning pinning);
std::string_view to_string(TlsClientMode mode);

}  // namespace storegate::config
