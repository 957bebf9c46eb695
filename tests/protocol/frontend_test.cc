#include "protocol/frontend.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/frame.h"
#include "tests/protocol/test_bytes.h"

namespace storegate::protocol {
namespace {

using test::only_frame;

TEST(Frontend, PasswordRoundTrips) {
    std::string wire;
    append_password(wire, "md5abc");
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, frontend::kPassword);
    std::string_view password;
    ASSERT_TRUE(parse_password(f.body, password));
    EXPECT_EQ(password, "md5abc");
    EXPECT_FALSE(parse_password("abc", password));
    EXPECT_FALSE(parse_password(std::string_view("a\0b", 3), password));
}

TEST(Frontend, SaslInitialResponseRoundTrips) {
    std::string wire;
    append_sasl_initial_response(wire, "SCRAM-SHA-256", "n,,n=,r=abc");
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, frontend::kPassword);
    std::string_view mechanism;
    std::string_view data;
    ASSERT_TRUE(parse_sasl_initial_response(f.body, mechanism, data));
    EXPECT_EQ(mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(data, "n,,n=,r=abc");
}

TEST(Frontend, SaslInitialResponseAcceptsNoData) {
    std::string_view mechanism;
    std::string_view data = "x";
    ASSERT_TRUE(
        parse_sasl_initial_response(std::string_view("M\0\xff\xff\xff\xff", 6), mechanism, data));
    EXPECT_TRUE(data.empty());
}

TEST(Frontend, SaslInitialResponseRejectsBadLengths) {
    std::string_view mechanism;
    std::string_view data;
    EXPECT_FALSE(
        parse_sasl_initial_response(std::string_view("M\0\0\0\0\5abc", 9), mechanism, data));
    EXPECT_FALSE(
        parse_sasl_initial_response(std::string_view("M\0\0\0\0\1ab", 8), mechanism, data));
    EXPECT_FALSE(
        parse_sasl_initial_response(std::string_view("M\0\xff\xff\xff\xfe", 6), mechanism, data));
    EXPECT_FALSE(parse_sasl_initial_response(std::string_view("M", 1), mechanism, data));
}

TEST(Frontend, SaslResponseIsUnframedData) {
    std::string wire;
    append_sasl_response(wire, "c=biws");
    EXPECT_EQ(wire, std::string("p\0\0\0\x0a"
                                "c=biws",
                                11));
}

TEST(Frontend, QueryRoundTrips) {
    std::string wire;
    append_query(wire, "select 1");
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, frontend::kQuery);
    std::string_view sql;
    ASSERT_TRUE(parse_query(f.body, sql));
    EXPECT_EQ(sql, "select 1");
    EXPECT_FALSE(parse_query("select 1", sql));
}

TEST(Frontend, SyncAndTerminateAreEmpty) {
    std::string wire;
    append_sync(wire);
    append_terminate(wire);
    EXPECT_EQ(wire, std::string("S\0\0\0\4X\0\0\0\4", 10));
}

TEST(Frontend, ParsesParseMessage) {
    const std::string body("s1\0select $1\0\0\2\0\0\0\x17\0\0\0\0", 23);
    ParseMessage m;
    ASSERT_TRUE(parse_parse(body, m));
    EXPECT_EQ(m.name, "s1");
    EXPECT_EQ(m.query, "select $1");
    EXPECT_EQ(m.param_types, (std::vector<int32_t>{23, 0}));
    EXPECT_FALSE(parse_parse(body.substr(0, body.size() - 1), m));
    EXPECT_FALSE(parse_parse(body + "x", m));
    EXPECT_FALSE(parse_parse(std::string("s\0q\0\xff\xff", 6), m));
}

TEST(Frontend, ParsesBindNames) {
    const std::string body("p1\0s1\0\0\0\0\0\0\0", 12);
    std::string_view portal;
    std::string_view statement;
    ASSERT_TRUE(parse_bind_names(body, portal, statement));
    EXPECT_EQ(portal, "p1");
    EXPECT_EQ(statement, "s1");
    EXPECT_FALSE(parse_bind_names(std::string_view("p1\0s1", 5), portal, statement));
}

TEST(Frontend, ParsesDescribeAndClose) {
    char kind = 0;
    std::string_view name;
    ASSERT_TRUE(parse_describe_or_close(std::string_view("Sstmt\0", 6), kind, name));
    EXPECT_EQ(kind, 'S');
    EXPECT_EQ(name, "stmt");
    ASSERT_TRUE(parse_describe_or_close(std::string_view("P\0", 2), kind, name));
    EXPECT_EQ(kind, 'P');
    EXPECT_EQ(name, "");
    EXPECT_FALSE(parse_describe_or_close(std::string_view("Xa\0", 3), kind, name));
    EXPECT_FALSE(parse_describe_or_close("Sa", kind, name));
    EXPECT_FALSE(parse_describe_or_close("", kind, name));
}

TEST(Frontend, QuotesLiteralsAsServerDoes) {
    EXPECT_EQ(quote_literal("abc"), "'abc'");
    EXPECT_EQ(quote_literal("it's"), "'it''s'");
    EXPECT_EQ(quote_literal(R"(a\b)"), R"(E'a\\b')");
    EXPECT_EQ(quote_literal(""), "''");
}

TEST(Frontend, QuotesIdentifiers) {
    EXPECT_EQ(quote_identifier("store"), "\"store\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace storegate::protocol
