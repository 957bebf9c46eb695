#include "proxy/prepared_statements.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

using namespace std::string_view_literals;

TEST(PreparedStatements, SameTextAndTypesShareOneName) {
    auto a = make_statement("SELECT $1\0\0\0"sv);
    auto b = make_statement("SELECT $1\0\0\0"sv);
    auto typed = make_statement("SELECT $1\0\0\1\0\0\0\x17"sv);
    auto other = make_statement("SELECT $1 \0\0\0"sv);
    EXPECT_EQ(a->internal_name, b->internal_name);
    EXPECT_NE(a->internal_name, typed->internal_name);
    EXPECT_NE(a->internal_name, other->internal_name);
    EXPECT_EQ(a->internal_name.size(), 3u + 32u);
    EXPECT_TRUE(a->internal_name.starts_with("sg_"));
    EXPECT_EQ(a->definition, "SELECT $1\0\0\0"sv);
}

TEST(PreparedStatements, SetEvictsLeastRecentlyUsed) {
    PreparedSet set;
    EXPECT_FALSE(set.add("a", 2));
    EXPECT_FALSE(set.add("b", 2));
    EXPECT_TRUE(set.contains("a"));  // now b is the least recently used
    auto evicted = set.add("c", 2);
    ASSERT_TRUE(evicted);
    EXPECT_EQ(*evicted, "b");
    EXPECT_FALSE(set.contains("b"));
    EXPECT_TRUE(set.contains("a"));
    EXPECT_TRUE(set.contains("c"));
    EXPECT_EQ(set.size(), 2u);
}

TEST(PreparedStatements, AddingAKnownNameEvictsNothing) {
    PreparedSet set;
    set.add("a", 1);
    EXPECT_FALSE(set.add("a", 1));
    EXPECT_EQ(set.size(), 1u);
}

TEST(PreparedStatements, ZeroCapacityIsUnlimited) {
    PreparedSet set;
    for (int i = 0; i < 100; ++i) {
        EXPECT_FALSE(set.add("s" + std::to_string(i), 0));
    }
    EXPECT_EQ(set.size(), 100u);
}

TEST(PreparedStatements, EraseAndClear) {
    PreparedSet set;
    set.add("a", 0);
    set.add("b", 0);
    set.erase("a");
    set.erase("never");
    EXPECT_FALSE(set.contains("a"));
    EXPECT_TRUE(set.contains("b"));
    set.clear();
    EXPECT_EQ(set.size(), 0u);
    EXPECT_FALSE(set.add("a", 1));  // usable after clear
}

}  // namespace
}  // namespace storegate::proxy
