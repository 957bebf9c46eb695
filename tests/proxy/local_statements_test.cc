#include "proxy/local_statements.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

sql::Inspection show_store() {
    return sql::inspect("SHOW storegate.store");
}

TEST(LocalStatements, NamedStatementBindsPortalsUntilClosed) {
    LocalStatements local;
    local.define("s1", show_store());
    ASSERT_NE(local.statement("s1"), nullptr);
    EXPECT_EQ(local.statement("s1")->kind, sql::Kind::kShowStoregate);
    EXPECT_EQ(local.statement("s2"), nullptr);
    EXPECT_TRUE(local.bind("p1", "s1"));
    EXPECT_FALSE(local.bind("p2", "s2"));
    ASSERT_NE(local.portal("p1"), nullptr);
    EXPECT_EQ(local.portal("p2"), nullptr);
    EXPECT_TRUE(local.close('S', "s1"));
    EXPECT_FALSE(local.close('S', "s1"));
    EXPECT_NE(local.portal("p1"), nullptr);  // a portal outlives its statement, as on the server
    local.end_transaction();
    EXPECT_EQ(local.portal("p1"), nullptr);
}

TEST(LocalStatements, ServerMessagesReplaceOnlyTheUnnamedOnes) {
    LocalStatements local;
    local.define("", sql::inspect("SET storegate.store = 'alpha'"));
    local.define("named", show_store());
    ASSERT_TRUE(local.bind("", ""));
    ASSERT_TRUE(local.bind("p", "named"));
    local.server_parse("other");
    local.server_bind("q");
    EXPECT_NE(local.statement(""), nullptr);
    EXPECT_NE(local.portal(""), nullptr);
    local.server_parse("");
    local.server_bind("");
    EXPECT_EQ(local.statement(""), nullptr);
    EXPECT_EQ(local.portal(""), nullptr);
    EXPECT_NE(local.statement("named"), nullptr);
    EXPECT_NE(local.portal("p"), nullptr);
    local.clear();
    EXPECT_EQ(local.statement("named"), nullptr);
}

}  // namespace
}  // namespace storegate::proxy
