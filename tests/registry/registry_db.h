// A fresh registry database per test on the shared throwaway cluster, with helpers to migrate
// it and seed a small known registry.
#pragma once

#include <gtest/gtest.h>

#include "pg_cluster.h"
#include "registry/pg_registry.h"

namespace storegate::test_support {

namespace ids {
inline constexpr const char* kTenant = "11111111-2222-4333-8444-555555555555";
inline constexpr const char* kStoreA = "7c1e2d3f-0000-4000-8000-00000000000a";
inline constexpr const char* kStoreB = "7c1e2d3f-0000-4000-8000-00000000000b";

}  // namespace ids

// Each test gets a fresh database on the shared throwaway cluster.
class RegistryDbTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster_ = PgCluster::shared();
        if (cluster_ == nullptr) {
            GTEST_SKIP() << "PostgreSQL 15 is not installed";
        }
        database_ = cluster_->create_database();
        dsn_ = cluster_->dsn(database_);
    }

    void migrate_ok() {
        registry::MigrateResult m = registry::migrate(dsn_);
        ASSERT_TRUE(m.ok) << m.error;
    }

    void seed() {
        query(dsn_, R"(
INSERT INTO db_connections (db_key, kind, host, port, database_name, username,
                            password_secret_ref, status, sslmode)
VALUES ('shared_1', 'shared', '127.0.0.1', 5433, 'shop', 'app', 'env:PW', 'active', NULL),
       ('big', 'dedicated', '/var/run/postgresql', 5432, 'big', 'big', 'file:/pw', 'disabled',
        'require');
INSERT INTO tenants (id, name, slug, common_db_key)
VALUES ('11111111-2222-4333-8444-555555555555', 'Acme', 'acme', 'shared_1');
INSERT INTO stores (id, tenant_id, slug, name, paused)
VALUES ('7c1e2d3f-0000-4000-8000-00000000000a', '11111111-2222-4333-8444-555555555555',
        'alpha', 'Alpha', false),
       ('7c1e2d3f-0000-4000-8000-00000000000b', '11111111-2222-4333-8444-555555555555',
        'beta', '', true);
INSERT INTO store_db_routing (store_id, db_key)
VALUES ('7c1e2d3f-0000-4000-8000-00000000000a', 'shared_1');
)");
    }

    PgCluster* cluster_ = nullptr;
    std::string database_;
    std::string dsn_;
};

}  // namespace storegate::test_support
