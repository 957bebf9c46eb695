#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/cli.h"
#include "tests/config/run_command.h"

namespace storegate::config {
namespace {

namespace fs = std::filesystem;

// A scratch folder holding a configuration and the files it names.
class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("storegate-config-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(counter_++));
        fs::create_directories(dir_);
        write("users.txt", "\"app\" \"secret\"\n");
        write("registry.toml", "");
        write("server.crt", "x");
        write("server.key", "x");
        write("ca.crt", "x");
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
        return (dir_ / name).string();
    }
    std::string path() const { return (dir_ / "storegate.toml").string(); }
    LoadResult parse_text(const std::string& text) { return parse(text, path()); }

    // Error list as "line key: message" strings, for readable failures.
    static std::vector<std::string> describe(const LoadResult& result) {
        std::vector<std::string> out;
        for (const auto& e : result.errors) {
            out.push_back(std::to_string(e.line) + " " + e.key + ": " + e.message);
        }
        return out;
    }
    static const ConfigError* find(const LoadResult& result, const std::string& key) {
        for (const auto& e : result.errors) {
            if (e.key == key) {
                return &e;
            }
        }
        return nullptr;
    }

    fs::path dir_;
    static inline int counter_ = 0;
};

constexpr const char* kMinimal = R"(
[registry]
file = "registry.toml"
[auth]
type = "trust"
)";

constexpr const char* kFull = R"(
[server]
listen = "[::1]:7432"
unix_socket_dir = "/tmp"
threads = 4
startup_timeout_ms = 2500
shutdown_timeout_ms = 100
max_client_conn = 500
max_client_conn_per_addr = 50
max_message_size = 1048576
instance_id = "sg-1"

[admin]
listen = "127.0.0.1:9931"
token = "env:ADMIN_TOKEN"
admin_users = ["dba", "ops"]
store_metrics_limit = 10

[registry]
dsn = "host=127.0.0.1 port=5433 dbname=registry"
negative_cache_ttl_ms = 1500
refresh_interval_ms = 60000

[pool]
mode = "transaction"
size = 30
min_size = 2
wait_timeout_ms = 7000
idle_timeout_ms = 1000
lifetime_ms = 2000
connect_timeout_ms = 3000
max_pools = 50
reset_query = "DISCARD ALL"
pinning = "error"
prepared_cache_size = 100

[pool.db.big_store]
mode = "session"
size = 80

[pool.db.reporting]
size = 3

[routing]
sources = ["user", "sni"]
user_separator = "@"
database_prefix = "s_"
sni_suffix = "db.example.com"
default_db_key = "shared_1"

[auth]
type = "scram-sha-256"
users_file = "users.txt"

[tls]
cert_file = "server.crt"
key_file = "server.key"
ca_file = "ca.crt"
client_mode = "require"
server_sslmode = "verify-full"
server_ca_file = "ca.crt"

[retarget]
drain_timeout_ms = 4000
pause_timeout_ms = 5000

[log]
level = "debug"
)";

TEST_F(ConfigTest, MinimalFileTakesDefaults) {
    LoadResult result = parse_text(kMinimal);
    ASSERT_TRUE(result.errors.empty()) << testing::PrintToString(describe(result));
    const Config& c = *result.config;
    EXPECT_EQ(c.server.listen, "127.0.0.1:6432");
    EXPECT_EQ(c.pool.mode, PoolMode::kSession);
    EXPECT_EQ(c.pool.size, 20);
    EXPECT_EQ(c.pool.wait_timeout, Millis(5000));
    EXPECT_EQ(c.registry.file, (dir_ / "registry.toml").string());
    EXPECT_EQ(c.auth.type, AuthType::kTrust);
    // sni is in the default source list but needs a suffix before it can apply.
    std::vector<RoutingSource> expected = {RoutingSource::kOptions, RoutingSource::kUser,
                                           RoutingSource::kDatabase};
    EXPECT_EQ(c.routing.sources, expected);
}

TEST_F(ConfigTest, FullFileReadsEveryKey) {
    LoadResult result = parse_text(kFull);
    ASSERT_TRUE(result.errors.empty()) << testing::PrintToString(describe(result));
    const Config& c = *result.config;
    EXPECT_EQ(c.path, path());
    EXPECT_EQ(c.server.listen, "[::1]:7432");
    EXPECT_EQ(c.server.threads, 4);
    EXPECT_EQ(c.server.startup_timeout, Millis(2500));
    EXPECT_EQ(c.server.shutdown_timeout, Millis(100));
    EXPECT_EQ(c.server.max_client_conn, 500);
    EXPECT_EQ(c.server.max_client_conn_per_addr, 50);
    EXPECT_EQ(c.server.max_message_size, 1048576u);
    EXPECT_EQ(c.server.instance_id, "sg-1");
    EXPECT_EQ(c.admin.listen, "127.0.0.1:9931");
    EXPECT_EQ(c.admin.token, "env:ADMIN_TOKEN");
    EXPECT_EQ(c.admin.admin_users, (std::vector<std::string>{"dba", "ops"}));
    EXPECT_EQ(c.admin.store_metrics_limit, 10);
    EXPECT_EQ(c.registry.dsn, "host=127.0.0.1 port=5433 dbname=registry");
    EXPECT_EQ(c.registry.negative_cache_ttl, Millis(1500));
    EXPECT_EQ(c.registry.refresh_interval, Millis(60000));
    EXPECT_EQ(c.pool.mode, PoolMode::kTransaction);
    EXPECT_EQ(c.pool.min_size, 2);
    EXPECT_EQ(c.pool.idle_timeout, Millis(1000));
    EXPECT_EQ(c.pool.lifetime, Millis(2000));
    EXPECT_EQ(c.pool.connect_timeout, Millis(3000));
    EXPECT_EQ(c.pool.max_pools, 50);
    EXPECT_EQ(c.pool.pinning, Pinning::kError);
    EXPECT_EQ(c.pool.prepared_cache_size, 100);
    EXPECT_EQ(c.routing.sources,
              (std::vector<RoutingSource>{RoutingSource::kUser, RoutingSource::kSni}));
    EXPECT_EQ(c.routing.user_separator, "@");
    EXPECT_EQ(c.routing.database_prefix, "s_");
    EXPECT_EQ(c.routing.default_db_key, "shared_1");
    EXPECT_EQ(c.auth.users_file, (dir_ / "users.txt").string());
    EXPECT_EQ(c.tls.cert_file, (dir_ / "server.crt").string());
    EXPECT_EQ(c.tls.client_mode, TlsClientMode::kRequire);
    EXPECT_EQ(c.tls.server_sslmode, "verify-full");
    EXPECT_EQ(c.retarget.drain_timeout, Millis(4000));
    EXPECT_EQ(c.retarget.pause_timeout, Millis(5000));
    EXPECT_EQ(c.log.level, log::Level::kDebug);
}

TEST_F(ConfigTest, PoolOverridesApplyPerDbKey) {
    LoadResult result = parse_text(kFull);
    ASSERT_TRUE(result.config);
    const Config& c = *result.config;
    EXPECT_EQ(c.mode_for("big_store"), PoolMode::kSession);
    EXPECT_EQ(c.size_for("big_store"), 80);
    EXPECT_EQ(c.mode_for("reporting"), PoolMode::kTransaction);
    EXPECT_EQ(c.size_for("reporting"), 3);
    EXPECT_EQ(c.mode_for("other"), PoolMode::kTransaction);
    EXPECT_EQ(c.size_for("other"), 30);
}

TEST_F(ConfigTest, ReportsEveryErrorWithItsLine) {
    LoadResult result = parse_text(R"([server]
listen = "localhost"
threads = -1
thraeds = 2
[registry]
file = "registry.toml"
[pool]
mode = "sesion"
size = 0
wait_timeout = 5000
[pool.db.big]
size = "many"
[auth]
type = "trust"
[logging]
level = "info"
)");
    EXPECT_FALSE(result.config);
    ASSERT_EQ(result.errors.size(), 8u) << testing::PrintToString(describe(result));
    std::vector<std::pair<std::string, int>> expected = {
        {"server.listen", 2}, {"server.threads", 3},     {"server.thraeds", 4},    {"pool.mode", 8},
        {"pool.size", 9},     {"pool.wait_timeout", 10}, {"pool.db.big.size", 12}, {"logging", 15},
    };
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(result.errors[i].key, expected[i].first);
        EXPECT_EQ(result.errors[i].line, expected[i].second) << expected[i].first;
    }
    EXPECT_NE(result.errors[2].message.find("did you mean server.threads"), std::string::npos);
    EXPECT_NE(result.errors[5].message.find("wait_timeout_ms"), std::string::npos);
    EXPECT_NE(result.errors[3].message.find("session, transaction"), std::string::npos);
}

TEST_F(ConfigTest, RejectsWrongTypes) {
    LoadResult result = parse_text(R"([server]
threads = "4"
[admin]
admin_users = "dba"
[registry]
file = "registry.toml"
refresh_interval_ms = 1.5
[auth]
type = "trust"
[tls]
cert_file = 7
)");
    EXPECT_EQ(result.errors.size(), 4u) << testing::PrintToString(describe(result));
    ASSERT_NE(find(result, "server.threads"), nullptr);
    EXPECT_EQ(find(result, "server.threads")->message, "expected an integer, got a string");
    ASSERT_NE(find(result, "admin.admin_users"), nullptr);
    ASSERT_NE(find(result, "registry.refresh_interval_ms"), nullptr);
    EXPECT_EQ(find(result, "registry.refresh_interval_ms")->line, 7);
    ASSERT_NE(find(result, "tls.cert_file"), nullptr);
}

TEST_F(ConfigTest, RejectsBadEnums) {
    LoadResult result = parse_text(R"([registry]
file = "registry.toml"
[pool]
pinning = "maybe"
[routing]
sources = ["options", "header"]
[auth]
type = "password"
[tls]
client_mode = "sometimes"
server_sslmode = "on"
[log]
level = "loud"
)");
    std::vector<std::string> keys;
    for (const auto& e : result.errors) {
        keys.push_back(e.key);
    }
    std::vector<std::string> expected = {"pool.pinning",    "routing.sources",    "auth.type",
                                         "tls.client_mode", "tls.server_sslmode", "log.level"};
    EXPECT_EQ(keys, expected) << testing::PrintToString(describe(result));
}

TEST_F(ConfigTest, ChecksListenAddresses) {
    const std::pair<const char*, bool> cases[] = {
        {"127.0.0.1:6432", true}, {"[::1]:6432", true},     {"localhost:0", false},
        {"0.0.0.0:65535", true},  {"::1:6432", false},      {"127.0.0.1", false},
        {"127.0.0.1:", false},    {":6432", false},         {"127.0.0.1:65536", false},
        {"[::1]6432", false},     {"host:port", false},     {"[::1]:0", true},
        {"0.0.0.0:0", true},      {"[127.0.0.1]:1", false}, {"256.0.0.1:1", false},
        {"[]:6432", false},
    };
    for (const auto& [listen, valid] : cases) {
        std::string text = std::string(kMinimal) + "[admin]\nlisten = \"" + listen + "\"\n";
        LoadResult result = parse_text(text);
        EXPECT_EQ(result.errors.empty(), valid) << listen;
        if (!valid && !result.errors.empty()) {
            EXPECT_EQ(result.errors[0].key, "admin.listen");
        }
    }
}

TEST_F(ConfigTest, RequiresExactlyOneRegistrySource) {
    LoadResult none = parse_text("[auth]\ntype = \"trust\"\n");
    ASSERT_EQ(none.errors.size(), 1u) << testing::PrintToString(describe(none));
    EXPECT_EQ(none.errors[0].key, "registry");

    LoadResult both = parse_text(std::string(kMinimal) + "[registry]\n");
    EXPECT_FALSE(both.errors.empty());  // a duplicate table is a TOML syntax error

    LoadResult two = parse_text(R"([registry]
file = "registry.toml"
dsn = "host=127.0.0.1"
[auth]
type = "trust"
)");
    ASSERT_EQ(two.errors.size(), 1u) << testing::PrintToString(describe(two));
    EXPECT_EQ(two.errors[0].key, "registry.file");
    EXPECT_EQ(two.errors[0].line, 2);
}

TEST_F(ConfigTest, ResolvesRelativePathsAgainstTheConfigFolder) {
    fs::create_directories(dir_ / "certs");
    write("certs/a.crt", "x");
    LoadResult result = parse_text(std::string(kMinimal) + R"([tls]
cert_file = "certs/a.crt"
key_file = ")" + (dir_ / "server.key").string() +
                                   "\"\n");
    ASSERT_TRUE(result.config) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.config->tls.cert_file, (dir_ / "certs" / "a.crt").string());
    EXPECT_EQ(result.config->tls.key_file, (dir_ / "server.key").string());
}

TEST_F(ConfigTest, ReportsMissingFiles) {
    LoadResult result = parse_text(R"([registry]
file = "missing.toml"
[auth]
users_file = "nobody.txt"
)");
    ASSERT_EQ(result.errors.size(), 2u) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.errors[0].key, "registry.file");
    EXPECT_NE(result.errors[0].message.find((dir_ / "missing.toml").string()), std::string::npos);
    EXPECT_EQ(result.errors[1].key, "auth.users_file");
}

TEST_F(ConfigTest, PasswordAuthNeedsCredentials) {
    LoadResult result = parse_text("[registry]\nfile = \"registry.toml\"\n");
    ASSERT_EQ(result.errors.size(), 1u) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.errors[0].key, "auth.type");

    LoadResult query = parse_text(R"([registry]
dsn = "host=127.0.0.1"
[auth]
type = "md5"
auth_query = "SELECT usename, passwd FROM pg_shadow WHERE usename = $1"
)");
    EXPECT_TRUE(query.errors.empty()) << testing::PrintToString(describe(query));

    LoadResult no_registry = parse_text(R"([registry]
file = "registry.toml"
[auth]
auth_query = "SELECT 1"
)");
    ASSERT_EQ(no_registry.errors.size(), 1u);
    EXPECT_EQ(no_registry.errors[0].key, "auth.auth_query");
    EXPECT_EQ(no_registry.errors[0].line, 4);
}

TEST_F(ConfigTest, CertAuthNeedsTlsWithCa) {
    LoadResult result = parse_text(R"([registry]
file = "registry.toml"
[auth]
type = "cert"
)");
    ASSERT_EQ(result.errors.size(), 1u) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.errors[0].key, "auth.type");
}

TEST_F(ConfigTest, TlsCertNeedsKey) {
    LoadResult result = parse_text(std::string(kMinimal) + R"([tls]
cert_file = "server.crt"
client_mode = "require"
)");
    ASSERT_EQ(result.errors.size(), 2u) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.errors[0].key, "tls.cert_file");
    EXPECT_EQ(result.errors[1].key, "tls.client_mode");
}

TEST_F(ConfigTest, SniSourceNeedsSuffixAndTls) {
    LoadResult result = parse_text(std::string(kMinimal) + "[routing]\nsources = [\"sni\"]\n");
    ASSERT_EQ(result.errors.size(), 1u) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.errors[0].key, "routing.sources");
    EXPECT_NE(result.errors[0].message.find("sni_suffix"), std::string::npos);

    LoadResult no_tls = parse_text(std::string(kMinimal) +
                                   "[routing]\nsources = [\"sni\"]\nsni_suffix = \"db.test\"\n");
    ASSERT_EQ(no_tls.errors.size(), 1u) << testing::PrintToString(describe(no_tls));
    EXPECT_NE(no_tls.errors[0].message.find("TLS"), std::string::npos);
}

TEST_F(ConfigTest, RejectsDuplicateOrEmptySources) {
    LoadResult dup =
        parse_text(std::string(kMinimal) + "[routing]\nsources = [\"user\", \"user\"]\n");
    ASSERT_EQ(dup.errors.size(), 1u);
    EXPECT_EQ(dup.errors[0].key, "routing.sources");
    LoadResult empty = parse_text(std::string(kMinimal) + "[routing]\nsources = []\n");
    ASSERT_EQ(empty.errors.size(), 1u);
    EXPECT_EQ(empty.errors[0].key, "routing.sources");
}

TEST_F(ConfigTest, RejectsOutOfRangeNumbers) {
    LoadResult result = parse_text(std::string(kMinimal) + R"([pool]
size = 5
min_size = 6
wait_timeout_ms = -1
[pool.db.x]
size = 0
[server]
max_message_size = 10
)");
    std::vector<std::string> keys;
    for (const auto& e : result.errors) {
        keys.push_back(e.key);
    }
    std::vector<std::string> expected = {"pool.min_size", "pool.wait_timeout_ms", "pool.db.x.size",
                                         "server.max_message_size"};
    EXPECT_EQ(keys, expected) << testing::PrintToString(describe(result));
}

TEST_F(ConfigTest, SyntaxErrorHasALine) {
    LoadResult result = parse_text("[server]\nlisten = \"127.0.0.1:1\"\nthreads = = 2\n");
    ASSERT_EQ(result.errors.size(), 1u);
    EXPECT_EQ(result.errors[0].line, 3);
    EXPECT_TRUE(result.errors[0].key.empty());
}

TEST_F(ConfigTest, ErrorFormatNamesFileLineAndKey) {
    ConfigError error{"pool.size", 12, "must be at least 1"};
    EXPECT_EQ(error.to_string("a.toml"), "a.toml:12: pool.size: must be at least 1");
    ConfigError file_level{"", 0, "cannot read"};
    EXPECT_EQ(file_level.to_string("a.toml"), "a.toml: cannot read");
}

TEST_F(ConfigTest, LoadReadsFromDisk) {
    std::string file = write("storegate.toml", kMinimal);
    LoadResult result = load(file);
    ASSERT_TRUE(result.config) << testing::PrintToString(describe(result));
    EXPECT_EQ(result.config->path, file);
    LoadResult missing = load((dir_ / "absent.toml").string());
    ASSERT_EQ(missing.errors.size(), 1u);
    EXPECT_NE(missing.errors[0].message.find("cannot read"), std::string::npos);
}

TEST_F(ConfigTest, ReportsKeysThatNeedARestart) {
    Config running = *parse_text(kMinimal).config;
    Config next = running;
    next.pool.size = 99;  // applies live
    EXPECT_TRUE(restart_required(running, next).empty());
    next.server.listen = "127.0.0.1:7000";
    next.registry.file = "/elsewhere.toml";
    EXPECT_EQ(restart_required(running, next),
              (std::vector<std::string>{"server.listen", "registry.file"}));
}

int run_check_config(const std::vector<std::string>& args) {
    return storegate::test_support::run_command(&add_commands, args);
}

TEST_F(ConfigTest, CheckConfigCommandReportsOutcome) {
    std::string good = write("good.toml", kMinimal);
    std::string bad = write("bad.toml", "[server]\nthreads = -2\nbogus = 1\n");

    testing::internal::CaptureStdout();
    EXPECT_EQ(run_check_config({"check-config", "--config", good}), 0);
    EXPECT_EQ(testing::internal::GetCapturedStdout(), "configuration OK: " + good + "\n");

    testing::internal::CaptureStderr();
    EXPECT_EQ(run_check_config({"check-config", "--config", bad}), 1);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find(bad + ":2: server.threads: must be at least 0\n"), std::string::npos);
    EXPECT_NE(err.find(bad + ":3: server.bogus: unknown key"), std::string::npos);

    testing::internal::CaptureStdout();
    EXPECT_EQ(run_check_config({"--config", good, "check-config"}), 0);
    testing::internal::GetCapturedStdout();
}

}  // namespace
}  // namespace storegate::config
