#include "proxy/admin_api.h"

#include <gtest/gtest.h>

namespace storegate::proxy {
namespace {

TEST(AdminApiTarget, SplitsPathSegments) {
    auto t = parse_target("/v1/stores/alpha/pause");
    EXPECT_TRUE(t.valid);
    EXPECT_EQ(t.segments, (std::vector<std::string>{"v1", "stores", "alpha", "pause"}));
    EXPECT_TRUE(parse_target("/").segments.empty());
    EXPECT_EQ(parse_target("//metrics/").segments, std::vector<std::string>{"metrics"});
}

TEST(AdminApiTarget, DecodesPercentEscapes) {
    auto t = parse_target("/v1/stores/my%20store");
    ASSERT_EQ(t.segments.size(), 3u);
    EXPECT_EQ(t.segments[2], "my store");
    EXPECT_FALSE(parse_target("/v1/stores/%zz").valid);
    EXPECT_FALSE(parse_target("/v1/stores/%2").valid);
}

TEST(AdminApiTarget, ReadsTheQueryString) {
    auto t = parse_target("/v1/stores?offset=10&limit=5&flag");
    EXPECT_EQ(t.segments, (std::vector<std::string>{"v1", "stores"}));
    EXPECT_EQ(t.query.at("offset"), "10");
    EXPECT_EQ(t.query.at("limit"), "5");
    EXPECT_EQ(t.query.at("flag"), "");
}

TEST(AdminApiAuth, TakesTheBearerToken) {
    EXPECT_EQ(bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
    EXPECT_FALSE(bearer_token("Basic abc"));
    EXPECT_FALSE(bearer_token("Bearer "));
    EXPECT_FALSE(bearer_token(""));
}

}  // namespace
}  // namespace storegate::proxy
