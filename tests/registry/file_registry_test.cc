#include "registry/file_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace storegate::registry {
namespace {

namespace fs = std::filesystem;

class FileRegistryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("storegate-fileregistry-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    FileLoadResult load_text(const std::string& text) {
        std::ofstream(path()) << text;
        return load_file(path());
    }
    std::string path() const { return (dir_ / "registry.toml").string(); }
    fs::path dir_;
};

constexpr const char* kValid = R"(version = 3

[[backends]]
db_key = "shared_1"
kind = "shared"
host = "127.0.0.1"
port = 5433
database_name = "shop"
username = "app"
password_secret_ref = "env:SHOP_PW"

[[backends]]
db_key = "big"
kind = "dedicated"
host = "/var/run/postgresql"
database_name = "big"
username = "big"
password_secret_ref = "file:/etc/storegate/big.pw"
status = "disabled"
sslmode = "require"

[[tenants]]
id = "11111111-2222-4333-8444-555555555555"
name = "Acme"
slug = "acme"
common_db_key = "shared_1"

[[stores]]
id = "7c1e2d3f-0000-4000-8000-00000000000a"
tenant_id = "11111111-2222-4333-8444-555555555555"
slug = "alpha"
name = "Alpha shop"
db_key = "shared_1"

[[stores]]
id = "7C1E2D3F-0000-4000-8000-00000000000B"
tenant_id = "11111111-2222-4333-8444-555555555555"
slug = "beta"
status = "disabled"
db_key = "big"
paused = true
)";

TEST_F(FileRegistryTest, LoadsAValidFile) {
    FileLoadResult r = load_text(kValid);
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(r.errors);
    const Snapshot& s = r.snapshot;
    EXPECT_EQ(s.version, 3u);
    ASSERT_EQ(s.backends.size(), 2u);
    EXPECT_EQ(s.backends[0].port, 5433);
    EXPECT_EQ(s.backends[0].status, "active");
    EXPECT_EQ(s.backends[1].kind, BackendKind::kDedicated);
    EXPECT_EQ(s.backends[1].port, 5432);
    EXPECT_EQ(s.backends[1].status, "disabled");
    EXPECT_EQ(s.backends[1].sslmode, "require");
    ASSERT_EQ(s.tenants.size(), 1u);
    EXPECT_EQ(s.tenants[0].common_db_key, "shared_1");
    ASSERT_EQ(s.stores.size(), 2u);
    EXPECT_EQ(s.stores[0].name, "Alpha shop");
    EXPECT_EQ(s.stores[0].status, "active");
    EXPECT_FALSE(s.stores[0].paused);
    EXPECT_EQ(s.stores[1].id.to_string(), "7c1e2d3f-0000-4000-8000-00000000000b");
    EXPECT_TRUE(s.stores[1].paused);
    EXPECT_EQ(s.stores[1].status, "disabled");
}

TEST_F(FileRegistryTest, ReportsEveryErrorWithItsLine) {
    FileLoadResult r = load_text(R"([[backends]]
db_key = "shared_1"
kind = "sharded"
host = "127.0.0.1"
database_name = "shop"
username = "app"
colour = "blue"

[[stores]]
id = "not-a-uuid"
slug = "alpha"
db_key = "missing"

[[stores]]
id = "7c1e2d3f-0000-4000-8000-00000000000a"
tenant_id = "11111111-2222-4333-8444-555555555555"
slug = "alpha"
db_key = "shared_1"
paused = "yes"
)");
    std::vector<std::string> expected = {
        path() + ":3: backends[0].kind: expected one of shared, dedicated, got \"sharded\"",
        path() + ":7: backends[0].colour: unknown key",
        path() + ":10: stores[0].id: expected a uuid (8-4-4-4-12 hex digits), got \"not-a-uuid\"",
        path() + ":12: stores[0].db_key: unknown backend db_key \"missing\"",
        path() +
            ":16: stores[1].tenant_id: unknown tenant id "
            "\"11111111-2222-4333-8444-555555555555\"",
        path() + ":17: stores[1].slug: duplicate slug \"alpha\"",
        path() + ":19: stores[1].paused: expected a boolean, got a string",
    };
    EXPECT_EQ(r.errors, expected);
}

TEST_F(FileRegistryTest, RejectsDuplicateKeysAndMissingFields) {
    FileLoadResult r = load_text(R"([[backends]]
db_key = "a"
host = "h"
database_name = "d"
username = "u"
[[backends]]
db_key = "a"
[[tenants]]
name = "no id"
)");
    std::vector<std::string> expected = {
        path() + ":6: backends[1].host: is required",
        path() + ":6: backends[1].database_name: is required",
        path() + ":6: backends[1].username: is required",
        path() + ":7: backends[1].db_key: duplicate db_key \"a\"",
        path() + ":8: tenants[0].id: is required",
    };
    EXPECT_EQ(r.errors, expected);
}

TEST_F(FileRegistryTest, ReportsSyntaxAndMissingFile) {
    FileLoadResult r = load_text("[[stores]\n");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].rfind(path() + ":1: ", 0), 0u) << r.errors[0];

    FileLoadResult missing = load_file((dir_ / "absent.toml").string());
    ASSERT_EQ(missing.errors.size(), 1u);
    EXPECT_NE(missing.errors[0].find("cannot read"), std::string::npos);
}

TEST_F(FileRegistryTest, EmptyFileIsAnEmptyRegistry) {
    FileLoadResult r = load_text("");
    EXPECT_TRUE(r.errors.empty());
    EXPECT_TRUE(r.snapshot.stores.empty());
}

}  // namespace
}  // namespace storegate::registry
