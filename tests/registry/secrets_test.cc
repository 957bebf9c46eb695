#include "registry/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace storegate::registry {
namespace {

namespace fs = std::filesystem;

class SecretsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("storegate-secrets-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        fs::remove_all(dir_);
        ::unsetenv("STOREGATE_TEST_SECRET");
    }
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary) << text;
        return (dir_ / name).string();
    }
    fs::path dir_;
};

TEST_F(SecretsTest, ReadsEnvironmentVariable) {
    ::setenv("STOREGATE_TEST_SECRET", "s3cret value", 1);
    SecretResult r = resolve_secret("env:STOREGATE_TEST_SECRET");
    ASSERT_TRUE(r.value);
    EXPECT_EQ(*r.value, "s3cret value");
}

TEST_F(SecretsTest, MissingVariableNamesTheReference) {
    SecretResult r = resolve_secret("env:STOREGATE_TEST_SECRET");
    EXPECT_FALSE(r.value);
    EXPECT_NE(r.error.find("env:STOREGATE_TEST_SECRET"), std::string::npos);
    EXPECT_FALSE(resolve_secret("env:").value);
}

TEST_F(SecretsTest, ReadsFileDroppingOneTrailingNewline) {
    EXPECT_EQ(*resolve_secret("file:" + write("a", "pw\n")).value, "pw");
    EXPECT_EQ(*resolve_secret("file:" + write("b", "pw\n\n")).value, "pw\n");
    EXPECT_EQ(*resolve_secret("file:" + write("c", "pw")).value, "pw");
    EXPECT_EQ(*resolve_secret("file:" + write("d", "pw\r\n")).value, "pw");
    EXPECT_EQ(*resolve_secret("file:" + write("e", "")).value, "");
}

TEST_F(SecretsTest, MissingOrUnreadableFileIsAnError) {
    std::string missing = (dir_ / "absent").string();
    SecretResult r = resolve_secret("file:" + missing);
    EXPECT_FALSE(r.value);
    EXPECT_NE(r.error.find("file:" + missing), std::string::npos);
    EXPECT_FALSE(resolve_secret("file:" + dir_.string()).value);
    EXPECT_FALSE(resolve_secret("file:").value);
    if (::geteuid() != 0) {  // root reads files whatever their mode
        std::string locked = write("locked", "pw");
        ::chmod(locked.c_str(), 0);
        EXPECT_FALSE(resolve_secret("file:" + locked).value);
    }
}

TEST_F(SecretsTest, PlainValueOnlyWhenAllowed) {
    SecretResult refused = resolve_secret("hunter2");
    EXPECT_FALSE(refused.value);
    EXPECT_EQ(refused.error.find("hunter2"), std::string::npos);
    SecretResult allowed = resolve_secret("hunter2", true);
    ASSERT_TRUE(allowed.value);
    EXPECT_EQ(*allowed.value, "hunter2");
}

}  // namespace
}  // namespace storegate::registry
