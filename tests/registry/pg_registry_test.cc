#include "registry/pg_registry.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "registry/cli.h"
#include "registry_db.h"
#include "tests/config/run_command.h"

namespace storegate::registry {
namespace {

using storegate::test_support::query;
using storegate::test_support::RegistryDbTest;
using namespace storegate::test_support::ids;

using PgRegistryTest = RegistryDbTest;

TEST_F(PgRegistryTest, MigrateTwiceIsIdempotent) {
    MigrateResult first = migrate(dsn_);
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_EQ(first.version, 2);
    MigrateResult second = migrate(dsn_);
    ASSERT_TRUE(second.ok) << second.error;
    EXPECT_EQ(second.version, first.version);
    EXPECT_EQ(query(dsn_, "SELECT count(*) FROM storegate_schema_version"), "2");
}

TEST_F(PgRegistryTest, ConcurrentMigrationsAgree) {
    std::vector<MigrateResult> results(4);
    std::vector<std::thread> threads;
    for (auto& r : results) {
        threads.emplace_back([&r, this] { r = migrate(dsn_); });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto& r : results) {
        EXPECT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.version, 2);
    }
    EXPECT_EQ(query(dsn_, "SELECT count(*) FROM storegate_schema_version"), "2");
}

TEST_F(PgRegistryTest, SchemaHasDefaultsBeyondTheNamedColumns) {
    migrate_ok();
    query(dsn_, "INSERT INTO tenants (name) VALUES ('t')");
    query(dsn_, "INSERT INTO stores (tenant_id, slug) SELECT id, 's' FROM tenants");
    EXPECT_EQ(query(dsn_, "SELECT status || ':' || paused || ':' || name FROM stores"),
              "active:false:");
    EXPECT_THROW(query(dsn_,
                       "INSERT INTO db_connections (db_key, kind, host, port, "
                       "database_name, username, password_secret_ref, status) VALUES "
                       "('x', 'sharded', 'h', 5432, 'd', 'u', 'env:P', 'active')"),
                 std::runtime_error);
}

TEST_F(PgRegistryTest, MigrateFailureHidesThePassword) {
    std::string dsn = "host=127.0.0.1 port=" + std::to_string(cluster_->port()) +
                      " dbname=nosuchdb user=postgres password=hunter2secret";
    MigrateResult m = migrate(dsn);
    EXPECT_FALSE(m.ok);
    EXPECT_NE(m.error.find("nosuchdb"), std::string::npos) << m.error;
    EXPECT_EQ(m.error.find("hunter2secret"), std::string::npos) << m.error;

    MigrateResult garbage = migrate("host=127.0.0.1 password hunter2secret");
    EXPECT_FALSE(garbage.ok);
    EXPECT_EQ(garbage.error.find("hunter2secret"), std::string::npos) << garbage.error;
}

TEST_F(PgRegistryTest, LoadReadsEverythingWithTheVersion) {
    migrate_ok();
    seed();
    PgLoadResult r = load_pg(dsn_);
    ASSERT_TRUE(r.ok) << r.error;
    const Snapshot& s = r.snapshot;
    EXPECT_EQ(s.version,
              std::stoull(query(dsn_, "SELECT version FROM storegate_registry_version")));
    EXPECT_GE(s.version, 4u);  // one bump per seeding statement
    ASSERT_EQ(s.backends.size(), 2u);
    for (const Backend& b : s.backends) {
        if (b.db_key == "big") {
            EXPECT_EQ(b.kind, BackendKind::kDedicated);
            EXPECT_EQ(b.host, "/var/run/postgresql");
            EXPECT_EQ(b.status, "disabled");
            EXPECT_EQ(b.sslmode, "require");
            EXPECT_EQ(b.password_secret_ref, "file:/pw");
        } else {
            EXPECT_EQ(b.db_key, "shared_1");
            EXPECT_EQ(b.port, 5433);
            EXPECT_EQ(b.sslmode, "");
        }
    }
    ASSERT_EQ(s.tenants.size(), 1u);
    EXPECT_EQ(s.tenants[0].slug, "acme");
    EXPECT_EQ(s.tenants[0].common_db_key, "shared_1");
    ASSERT_EQ(s.stores.size(), 2u);
    for (const Store& st : s.stores) {
        EXPECT_EQ(st.tenant_id.to_string(), kTenant);
        if (st.slug == "alpha") {
            EXPECT_EQ(st.id.to_string(), kStoreA);
            EXPECT_EQ(st.db_key, "shared_1");
            EXPECT_FALSE(st.paused);
        } else {
            EXPECT_EQ(st.id.to_string(), kStoreB);
            EXPECT_EQ(st.db_key, "");  // no routing row
            EXPECT_TRUE(st.paused);
        }
    }
}

TEST_F(PgRegistryTest, LoadReadsManyStoresInBatches) {
    migrate_ok();
    seed();
    query(dsn_, "INSERT INTO stores (tenant_id, slug) SELECT '" + std::string(kTenant) +
                    "', 'bulk-' || n FROM generate_series(1, 25000) n");
    PgLoadResult r = load_pg(dsn_);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.snapshot.stores.size(), 25002u);
}

TEST_F(PgRegistryTest, LoadWithoutSchemaFails) {
    PgLoadResult r = load_pg(dsn_);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("storegate_registry_version"), std::string::npos) << r.error;
}

// A LISTEN connection collecting NOTIFY payloads of the registry channel.
class Listener {
  public:
    explicit Listener(const std::string& dsn) : conn_(PQconnectdb(dsn.c_str()), &PQfinish) {
        PQclear(PQexec(conn_.get(), "LISTEN storegate_registry"));
    }
    // Waits (bounded) until `count` payloads arrived; returns what arrived.
    std::vector<boost::json::object> wait(size_t count) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (received_.size() < count && std::chrono::steady_clock::now() < deadline) {
            pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
            ::poll(&fd, 1, 100);
            PQconsumeInput(conn_.get());
            while (PGnotify* n = PQnotifies(conn_.get())) {
                received_.push_back(boost::json::parse(n->extra).as_object());
                PQfreemem(n);
            }
        }
        return received_;
    }
    void clear() { received_.clear(); }

  private:
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
    std::vector<boost::json::object> received_;
};

std::string str(const boost::json::object& o, const char* key) {
    const auto& v = o.at(key);
    return v.is_null() ? "null" : std::string(v.as_string());
}

TEST_F(PgRegistryTest, TriggersNotifyEachChangedKeyWithTheVersion) {
    migrate_ok();
    seed();
    Listener listener(dsn_);
    query(dsn_, "UPDATE store_db_routing SET db_key = 'big' WHERE store_id = '" +
                    std::string(kStoreA) + "'");
    auto got = listener.wait(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(str(got[0], "table"), "store_db_routing");
    EXPECT_EQ(str(got[0], "op"), "UPDATE");
    EXPECT_EQ(str(got[0], "key"), kStoreA);
    int64_t version = got[0].at("version").as_int64();
    EXPECT_EQ(std::to_string(version),
              query(dsn_, "SELECT version FROM storegate_registry_version"));

    listener.clear();
    query(dsn_, "UPDATE stores SET paused = true");  // two rows, one statement
    got = listener.wait(2);
    ASSERT_EQ(got.size(), 2u);
    std::set<std::string> keys = {str(got[0], "key"), str(got[1], "key")};
    EXPECT_EQ(keys, (std::set<std::string>{kStoreA, kStoreB}));
    EXPECT_EQ(got[0].at("version").as_int64(), version + 1);
    EXPECT_EQ(got[1].at("version").as_int64(), version + 1);

    listener.clear();
    query(dsn_, "DELETE FROM db_connections WHERE db_key = 'big' AND false");  // no rows
    query(dsn_, "DELETE FROM store_db_routing");
    query(dsn_, "UPDATE db_connections SET port = 5434 WHERE db_key = 'shared_1'");
    got = listener.wait(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(str(got[0], "op"), "DELETE");
    EXPECT_EQ(got[0].at("version").as_int64(), version + 2);  // the empty statement bumped none
    EXPECT_EQ(str(got[1], "table"), "db_connections");
    EXPECT_EQ(str(got[1], "key"), "shared_1");
}

TEST_F(PgRegistryTest, LargeStatementsNotifyOnceWithoutKey) {
    migrate_ok();
    seed();
    Listener listener(dsn_);
    query(dsn_, "INSERT INTO stores (tenant_id, slug) SELECT '" + std::string(kTenant) +
                    "', 'bulk-' || n FROM generate_series(1, 500) n");
    auto got = listener.wait(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(str(got[0], "table"), "stores");
    EXPECT_EQ(str(got[0], "op"), "INSERT");
    EXPECT_TRUE(got[0].at("key").is_null());
}

TEST_F(PgRegistryTest, UpdatedAtFollowsUpdates) {
    migrate_ok();
    seed();
    query(dsn_, "UPDATE stores SET updated_at = '2000-01-01' WHERE slug = 'alpha'");
    EXPECT_NE(query(dsn_, "SELECT updated_at::date FROM stores WHERE slug = 'alpha'"),
              "2000-01-01");
    EXPECT_EQ(query(dsn_, "SELECT updated_at > created_at FROM stores WHERE slug = 'alpha'"), "t");
}

TEST(RedactDsn, RemovesPasswordsFromBothForms) {
    std::string kv = redact_dsn("host=db.internal port=5432 password='se cr\\'et' user=app");
    EXPECT_EQ(kv.find("se cr"), std::string::npos);
    EXPECT_EQ(kv.find("password"), std::string::npos);
    EXPECT_NE(kv.find("host=db.internal"), std::string::npos);
    EXPECT_NE(kv.find("user=app"), std::string::npos);

    std::string uri =
        redact_dsn("postgresql://app:s3cret@db.internal:5433/reg?password=x2&sslmode=require");
    EXPECT_EQ(uri.find("s3cret"), std::string::npos);
    EXPECT_EQ(uri.find("x2"), std::string::npos);
    EXPECT_NE(uri.find("user=app"), std::string::npos);
    EXPECT_NE(uri.find("sslmode=require"), std::string::npos);

    EXPECT_EQ(redact_dsn("host=a password"), "(unparsable DSN)");
    EXPECT_EQ(redact_dsn("dbname='it''s'").find("password"), std::string::npos);
}

int run_cli(const std::vector<std::string>& args) {
    return storegate::test_support::run_command(&add_commands, args);
}

TEST_F(PgRegistryTest, RegistryInitCommandPrintsTheVersion) {
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(run_cli({"registry", "init", "--dsn", dsn_}), 0);
    std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_NE(out.find("registry schema at version 2"), std::string::npos) << out;

    ::testing::internal::CaptureStderr();
    EXPECT_EQ(run_cli({"registry", "init", "--dsn", dsn_ + " password=hunter2secret port=1"}), 1);
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("cannot connect"), std::string::npos) << err;
    EXPECT_EQ(err.find("hunter2secret"), std::string::npos) << err;
}

}  // namespace
}  // namespace storegate::registry
