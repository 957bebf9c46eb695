#include "protocol/backend.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "protocol/frame.h"
#include "protocol/reader.h"
#include "tests/protocol/test_bytes.h"

namespace storegate::protocol {
namespace {

using test::only_frame;

TEST(Backend, ErrorResponseLayoutIsExact) {
    std::string wire;
    append_error(wire, {"FATAL", "3D000", "unknown store", "", "check the key"});
    const std::string body =
        std::string("SFATAL\0VFATAL\0C3D000\0Munknown store\0Hcheck the key\0\0", 52);
    ASSERT_EQ(wire.size(), 5 + body.size());
    EXPECT_EQ(wire, std::string("E\0\0\0\x38", 5) + body);
}

TEST(Backend, ErrorResponseRoundTrips) {
    std::string wire;
    const ErrorFields in{"ERROR", "08P01", "bad", "some detail", "a hint"};
    append_error(wire, in);
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kErrorResponse);
    ErrorFields out;
    ASSERT_TRUE(parse_error_fields(f.body, out));
    EXPECT_EQ(out.severity, "ERROR");
    EXPECT_EQ(out.code, "08P01");
    EXPECT_EQ(out.message, "bad");
    EXPECT_EQ(out.detail, "some detail");
    EXPECT_EQ(out.hint, "a hint");
}

TEST(Backend, NoticeUsesItsOwnType) {
    std::string wire;
    append_notice(wire, {"NOTICE", "00000", "hello", "", ""});
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kNoticeResponse);
    ErrorFields out;
    ASSERT_TRUE(parse_error_fields(f.body, out));
    EXPECT_EQ(out.severity, "NOTICE");
    EXPECT_TRUE(out.detail.empty());
}

TEST(Backend, ErrorFieldsSkipUnknownTagsAndPreferUnlocalizedSeverity) {
    const std::string body("SFEHLER\0VERROR\0C42601\0Mm\0P12\0\0", 30);
    ErrorFields out;
    ASSERT_TRUE(parse_error_fields(body, out));
    EXPECT_EQ(out.severity, "ERROR");
    EXPECT_EQ(out.code, "42601");
}

TEST(Backend, ErrorFieldsRejectMissingTerminators) {
    ErrorFields out;
    EXPECT_FALSE(parse_error_fields(std::string_view("SERROR\0", 7), out));
    EXPECT_FALSE(parse_error_fields(std::string_view("SERROR", 6), out));
    EXPECT_FALSE(parse_error_fields(std::string_view("\0x", 2), out));
}

TEST(Backend, BuiltStringsCannotHoldNul) {
    std::string wire;
    append_command_complete(wire, std::string_view("SELECT 1\0Zjunk", 14));
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.body, std::string_view("SELECT 1\0", 9));
}

TEST(Backend, AuthRequestsRoundTrip) {
    std::string wire;
    append_auth_ok(wire);
    AuthRequest req;
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthOk);

    wire.clear();
    append_auth_cleartext(wire);
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthCleartext);

    wire.clear();
    const uint8_t salt[4] = {1, 2, 0xfe, 0};
    append_auth_md5(wire, salt);
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthMd5);
    EXPECT_EQ(std::memcmp(req.md5_salt, salt, 4), 0);
}

TEST(Backend, SaslRequestsRoundTrip) {
    std::string wire;
    append_auth_sasl(wire, {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"});
    AuthRequest req;
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthSasl);
    EXPECT_EQ(req.mechanisms, (std::vector<std::string>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));

    wire.clear();
    append_auth_sasl_continue(wire, "r=abc,s=c2FsdA==,i=4096");
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthSaslContinue);
    EXPECT_EQ(req.data, "r=abc,s=c2FsdA==,i=4096");

    wire.clear();
    append_auth_sasl_final(wire, "v=xyz");
    ASSERT_TRUE(parse_auth_request(only_frame(wire).body, req));
    EXPECT_EQ(req.code, kAuthSaslFinal);
    EXPECT_EQ(req.data, "v=xyz");
}

TEST(Backend, AuthRequestRejectsTruncatedBodies) {
    AuthRequest req;
    EXPECT_FALSE(parse_auth_request(std::string_view("\0\0", 2), req));
    EXPECT_FALSE(parse_auth_request(std::string_view("\0\0\0\5\1\2", 6), req));
    EXPECT_FALSE(parse_auth_request(std::string_view("\0\0\0\x0aSCRAM", 9), req));
    EXPECT_FALSE(parse_auth_request(std::string_view("\0\0\0\0x", 5), req));
}

TEST(Backend, ParameterStatusRoundTrips) {
    std::string wire;
    append_parameter_status(wire, "server_version", "15.0");
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kParameterStatus);
    std::string_view name;
    std::string_view value;
    ASSERT_TRUE(parse_parameter_status(f.body, name, value));
    EXPECT_EQ(name, "server_version");
    EXPECT_EQ(value, "15.0");
    EXPECT_FALSE(parse_parameter_status(std::string_view("a\0b", 3), name, value));
}

TEST(Backend, BackendKeyDataRoundTrips) {
    std::string wire;
    append_backend_key_data(wire, 1234, -99);
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kBackendKeyData);
    int32_t pid = 0;
    int32_t secret = 0;
    ASSERT_TRUE(parse_backend_key_data(f.body, pid, secret));
    EXPECT_EQ(pid, 1234);
    EXPECT_EQ(secret, -99);
    EXPECT_FALSE(parse_backend_key_data(f.body.substr(0, 7), pid, secret));
}

TEST(Backend, ReadyForQueryRoundTrips) {
    for (const char status : {'I', 'T', 'E'}) {
        std::string wire;
        append_ready_for_query(wire, status);
        char out = 0;
        ASSERT_TRUE(parse_ready_for_query(only_frame(wire).body, out));
        EXPECT_EQ(out, status);
    }
    char out = 0;
    EXPECT_FALSE(parse_ready_for_query("X", out));
    EXPECT_FALSE(parse_ready_for_query("", out));
}

TEST(Backend, RowDescriptionDescribesTextColumns) {
    std::string wire;
    append_row_description(wire, {"store", "db_key"});
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kRowDescription);
    Reader r(f.body);
    int16_t count = 0;
    ASSERT_TRUE(r.i16(count));
    ASSERT_EQ(count, 2);
    for (const char* expected : {"store", "db_key"}) {
        std::string_view name;
        int32_t table = 1, type = 0, typmod = 0;
        int16_t attr = 1, typlen = 0, format = 1;
        ASSERT_TRUE(r.cstring(name) && r.i32(table) && r.i16(attr) && r.i32(type) &&
                    r.i16(typlen) && r.i32(typmod) && r.i16(format));
        EXPECT_EQ(name, expected);
        EXPECT_EQ(table, 0);
        EXPECT_EQ(attr, 0);
        EXPECT_EQ(type, 25);
        EXPECT_EQ(typlen, -1);
        EXPECT_EQ(typmod, -1);
        EXPECT_EQ(format, 0);
    }
    EXPECT_TRUE(r.at_end());
}

TEST(Backend, DataRowCarriesTextValuesAndNulls) {
    std::string wire;
    append_data_row(wire, {"a", "", "xyz"}, {false, false, true});
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kDataRow);
    EXPECT_EQ(f.body, std::string_view("\0\3\0\0\0\1a\0\0\0\0\xff\xff\xff\xff", 15));

    wire.clear();
    append_data_row(wire, {"pg"});
    EXPECT_EQ(only_frame(wire).body, std::string_view("\0\1\0\0\0\2pg", 8));
}

TEST(Backend, EmptyMessagesHaveLengthFour) {
    std::string wire;
    append_parse_complete(wire);
    append_bind_complete(wire);
    append_close_complete(wire);
    append_no_data(wire);
    append_empty_query_response(wire);
    EXPECT_EQ(wire, std::string("1\0\0\0\4"
                                "2\0\0\0\4"
                                "3\0\0\0\4"
                                "n\0\0\0\4"
                                "I\0\0\0\4",
                                25));
}

TEST(Backend, CommandCompleteCarriesTag) {
    std::string wire;
    append_command_complete(wire, "SET");
    EXPECT_EQ(wire, std::string("C\0\0\0\x08SET\0", 9));
}

TEST(Backend, ParameterDescriptionListsOids) {
    std::string wire;
    append_parameter_description(wire, {23, 25});
    EXPECT_EQ(only_frame(wire).body, std::string_view("\0\2\0\0\0\x17\0\0\0\x19", 10));
}

TEST(Backend, NegotiateProtocolVersionListsIgnoredOptions) {
    std::string wire;
    append_negotiate_protocol_version(wire, 0, {"_pq_.a", "_pq_.b"});
    const Frame f = only_frame(wire);
    EXPECT_EQ(f.type, backend::kNegotiateProtocolVersion);
    EXPECT_EQ(f.body, std::string_view("\0\0\0\0\0\0\0\2_pq_.a\0_pq_.b\0", 22));
}

}  // namespace
}  // namespace storegate::protocol
