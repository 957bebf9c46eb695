#include "registry/rls_policy.h"

#include <gtest/gtest.h>

namespace storegate::registry {
namespace {

TEST(RlsPolicy, QuotesSchemaTableAndColumn) {
    auto sql = rls_policy_sql("app.orders", "store_id");
    ASSERT_TRUE(sql.has_value());
    EXPECT_NE(sql->find("ALTER TABLE \"app\".\"orders\" ENABLE ROW LEVEL SECURITY;"),
              std::string::npos);
    EXPECT_NE(sql->find("FORCE ROW LEVEL SECURITY"), std::string::npos);
    EXPECT_NE(sql->find("USING (\"store_id\"::text = current_setting('storegate.store_id', true))"),
              std::string::npos);
    EXPECT_NE(sql->find("WITH CHECK ("), std::string::npos);
}

TEST(RlsPolicy, DoublesEmbeddedQuotes) {
    auto sql = rls_policy_sql("we\"ird", "c\"ol");
    ASSERT_TRUE(sql.has_value());
    EXPECT_NE(sql->find("\"we\"\"ird\""), std::string::npos);
    EXPECT_NE(sql->find("\"c\"\"ol\"::text"), std::string::npos);
}

TEST(RlsPolicy, RefusesEmptyOrOverQualifiedNames) {
    EXPECT_FALSE(rls_policy_sql("", "store_id"));
    EXPECT_FALSE(rls_policy_sql("orders", ""));
    EXPECT_FALSE(rls_policy_sql("a.b.c", "store_id"));
    EXPECT_FALSE(rls_policy_sql("app.", "store_id"));
    EXPECT_FALSE(rls_policy_sql(".orders", "store_id"));
}

}  // namespace
}  // namespace storegate::registry
