#include "protocol/startup.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/frontend.h"
#include "tests/protocol/test_bytes.h"

namespace storegate::protocol {
namespace {

using test::be32;
using test::bytes_of;

std::string packet(uint32_t code, const std::string& payload) {
    return be32(static_cast<uint32_t>(payload.size() + 8)) + be32(code) + payload;
}

std::string params(std::initializer_list<std::string> words) {
    std::string out;
    for (const auto& w : words) {
        out += w;
        out.push_back('\0');
    }
    out.push_back('\0');
    return out;
}

StartupStatus decode(const std::string& wire, StartupPacket& p) {
    size_t consumed = 0;
    return decode_startup(bytes_of(wire), p, consumed);
}

TEST(Startup, DecodesStartupMessage) {
    const std::string wire =
        packet(kProtocol30, params({"user", "app", "database", "shop", "options", "-c a=b"})) +
        "trailing";
    StartupPacket p;
    size_t consumed = 0;
    ASSERT_EQ(decode_startup(bytes_of(wire), p, consumed), StartupStatus::kReady);
    EXPECT_EQ(consumed, wire.size() - 8);
    EXPECT_EQ(p.kind, StartupKind::kStartup);
    EXPECT_EQ(p.version, kProtocol30);
    ASSERT_EQ(p.params.size(), 3u);
    EXPECT_EQ(p.params[1].first, "database");
    EXPECT_EQ(p.param("user"), "app");
    EXPECT_EQ(p.param("options"), "-c a=b");
    EXPECT_EQ(p.param("absent"), "");
}

TEST(Startup, AcceptsLaterMinorVersionOfProtocolThree) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kProtocol30 + 2, params({"user", "u"})), p), StartupStatus::kReady);
    EXPECT_EQ(p.version, kProtocol30 + 2);
}

TEST(Startup, RoundTripsBuiltStartupMessage) {
    std::string wire;
    append_startup(wire, {{"user", "u"}, {"application_name", "psql"}});
    StartupPacket p;
    ASSERT_EQ(decode(wire, p), StartupStatus::kReady);
    EXPECT_EQ(p.param("application_name"), "psql");
}

TEST(Startup, DecodesSslRequest) {
    std::string wire;
    append_ssl_request(wire);
    StartupPacket p;
    ASSERT_EQ(decode(wire, p), StartupStatus::kReady);
    EXPECT_EQ(p.kind, StartupKind::kSsl);
}

TEST(Startup, DecodesGssEncRequest) {
    StartupPacket p;
    ASSERT_EQ(decode(packet(kGssEncRequestCode, ""), p), StartupStatus::kReady);
    EXPECT_EQ(p.kind, StartupKind::kGssEnc);
}

TEST(Startup, DecodesCancelRequest) {
    std::string wire;
    append_cancel_request(wire, 4242, -7);
    StartupPacket p;
    size_t consumed = 0;
    ASSERT_EQ(decode_startup(bytes_of(wire), p, consumed), StartupStatus::kReady);
    EXPECT_EQ(consumed, 16u);
    EXPECT_EQ(p.kind, StartupKind::kCancel);
    EXPECT_EQ(p.cancel_pid, 4242);
    EXPECT_EQ(p.cancel_secret, -7);
}

TEST(Startup, RejectsCancelRequestOfWrongLength) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kCancelRequestCode, "12345678x"), p), StartupStatus::kMalformed);
    EXPECT_EQ(decode(packet(kCancelRequestCode, "1234"), p), StartupStatus::kMalformed);
}

TEST(Startup, RejectsSslRequestWithPayload) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kSslRequestCode, "x"), p), StartupStatus::kMalformed);
}

TEST(Startup, NeedsMoreUntilWholePacketArrives) {
    const std::string wire = packet(kProtocol30, params({"user", "u"}));
    StartupPacket p;
    for (size_t n = 0; n < wire.size(); ++n) {
        EXPECT_EQ(decode(wire.substr(0, n), p), StartupStatus::kNeedMore) << n;
    }
}

TEST(Startup, RejectsLengthBelowEight) {
    StartupPacket p;
    for (uint32_t len = 0; len < 8; ++len) {
        EXPECT_EQ(decode(be32(len) + be32(kProtocol30), p), StartupStatus::kTooShort) << len;
    }
}

TEST(Startup, RejectsLengthAboveLimitBeforeBodyArrives) {
    StartupPacket p;
    EXPECT_EQ(decode(be32(kMaxStartupPacket + 1), p), StartupStatus::kTooLong);
    EXPECT_EQ(decode(be32(0xffffffffu) + be32(kProtocol30), p), StartupStatus::kTooLong);
}

TEST(Startup, RejectsOtherProtocolVersions) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(2u << 16, params({"user", "u"})), p), StartupStatus::kBadVersion);
    EXPECT_EQ(decode(packet(4u << 16, params({"user", "u"})), p), StartupStatus::kBadVersion);
    EXPECT_EQ(decode(packet((1234u << 16) | 5681u, ""), p), StartupStatus::kBadVersion);
    EXPECT_EQ(decode(packet((1234u << 16) | 1234u, ""), p), StartupStatus::kBadVersion);
}

TEST(Startup, RejectsMissingTerminator) {
    StartupPacket p;
    std::string body = params({"user", "u"});
    body.pop_back();
    EXPECT_EQ(decode(packet(kProtocol30, body), p), StartupStatus::kMalformed);
    EXPECT_EQ(decode(packet(kProtocol30, std::string("user\0u", 6)), p), StartupStatus::kMalformed);
}

TEST(Startup, RejectsBytesAfterTerminator) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kProtocol30, params({"user", "u"}) + "x"), p),
              StartupStatus::kMalformed);
}

TEST(Startup, RejectsEmptyName) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kProtocol30, params({"user", "u", "", "v"})), p),
              StartupStatus::kMalformed);
}

TEST(Startup, RejectsMissingUser) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kProtocol30, params({"database", "d"})), p), StartupStatus::kMalformed);
    EXPECT_EQ(decode(packet(kProtocol30, params({"user", ""})), p), StartupStatus::kMalformed);
}

TEST(Startup, RejectsDuplicateName) {
    StartupPacket p;
    EXPECT_EQ(decode(packet(kProtocol30, params({"user", "a", "user", "b"})), p),
              StartupStatus::kMalformed);
}

TEST(StartupOptions, ParsesAllSettingForms) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    ASSERT_TRUE(
        parse_options("-c storegate.store=s1  -cwork_mem=64MB\t--search-path=app", opts, other));
    ASSERT_EQ(opts.size(), 3u);
    EXPECT_EQ(opts[0].name, "storegate.store");
    EXPECT_EQ(opts[0].value, "s1");
    EXPECT_EQ(opts[1].name, "work_mem");
    EXPECT_EQ(opts[1].value, "64MB");
    EXPECT_EQ(opts[2].name, "search_path");
    EXPECT_EQ(opts[2].value, "app");
    EXPECT_TRUE(other.empty());
}

TEST(StartupOptions, HonoursBackslashEscapes) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    ASSERT_TRUE(parse_options(R"(-c application_name=my\ app -c x.y=a\\b\)", opts, other));
    ASSERT_EQ(opts.size(), 2u);
    EXPECT_EQ(opts[0].value, "my app");
    EXPECT_EQ(opts[1].value, R"(a\b)");
}

TEST(StartupOptions, EscapedSpaceDoesNotSplitSwitchFromValue) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    ASSERT_TRUE(parse_options(R"(-c\ a=b)", opts, other));
    ASSERT_EQ(opts.size(), 1u);
    EXPECT_EQ(opts[0].name, " a");
}

TEST(StartupOptions, KeepsOtherSwitches) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    ASSERT_TRUE(parse_options("-B 128 -c a=b", opts, other));
    EXPECT_EQ(other, (std::vector<std::string>{"-B", "128"}));
    ASSERT_EQ(opts.size(), 1u);
}

TEST(StartupOptions, AcceptsEmptyValue) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    ASSERT_TRUE(parse_options("  -c a=  ", opts, other));
    ASSERT_EQ(opts.size(), 1u);
    EXPECT_EQ(opts[0].value, "");
}

TEST(StartupOptions, RejectsSettingWithoutValue) {
    std::vector<StartupOption> opts;
    std::vector<std::string> other;
    EXPECT_FALSE(parse_options("-c a", opts, other));
    EXPECT_FALSE(parse_options("-c", opts, other));
    EXPECT_FALSE(parse_options("--name", opts, other));
    EXPECT_FALSE(parse_options("-c =x", opts, other));
}

}  // namespace
}  // namespace storegate::protocol
