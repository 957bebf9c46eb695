#include "protocol/md5_auth.h"

#include <gtest/gtest.h>

namespace storegate::protocol::md5 {
namespace {

// Expected values computed by PostgreSQL 15:
//   select 'md5' || md5('secret' || 'user');
//   select md5(convert_to(md5('secretuser'), 'UTF8') || '\x01fe0304'::bytea);
constexpr std::string_view kStored = "md520eb1b22a92b5c573dc1eb4331fc49ee";
constexpr std::string_view kResponse = "md5855defa3ebcc717495ae8e8b98a45312";
constexpr uint8_t kSalt[4] = {0x01, 0xfe, 0x03, 0x04};

TEST(Md5, HashesPasswordAsServerStoresIt) {
    EXPECT_EQ(hash_password("user", "secret"), kStored);
}

TEST(Md5, RespondsFromPlainPassword) {
    EXPECT_EQ(response("user", "secret", kSalt), kResponse);
}

TEST(Md5, RespondsFromStoredHash) {
    EXPECT_EQ(response("user", kStored, kSalt), kResponse);
}

TEST(Md5, ResponseDependsOnSalt) {
    const uint8_t other[4] = {0x01, 0xfe, 0x03, 0x05};
    EXPECT_NE(response("user", "secret", other), kResponse);
}

TEST(Md5, RecognisesStoredHashes) {
    EXPECT_TRUE(is_md5_hash(kStored));
    EXPECT_FALSE(is_md5_hash("md520EB1B22A92B5C573DC1EB4331FC49EE"));
    EXPECT_FALSE(is_md5_hash("md520eb1b22a92b5c573dc1eb4331fc49e"));
    EXPECT_FALSE(is_md5_hash("md520eb1b22a92b5c573dc1eb4331fc49eee"));
    EXPECT_FALSE(is_md5_hash("xyz20eb1b22a92b5c573dc1eb4331fc49ee"));
    EXPECT_FALSE(is_md5_hash("md520eb1b22a92b5c573dc1eb4331fc49eg"));
    EXPECT_FALSE(is_md5_hash("secret"));
}

}  // namespace
}  // namespace storegate::protocol::md5
