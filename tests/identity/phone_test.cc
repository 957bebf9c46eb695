#include "identity/phone.h"

#include <gtest/gtest.h>

namespace storegate::identity {
namespace {

class PhoneCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!PhoneCheck::available()) {
            GTEST_SKIP() << "built without libphonenumber";
        }
    }
};

TEST_F(PhoneCheckTest, AcceptsInternationalNumbersWithoutADefault) {
    PhoneCheck check(0);
    EXPECT_EQ(check.problem("+1 650 253 0000"), "");
    EXPECT_EQ(check.problem("+44 20 7946 0958"), "");
}

TEST_F(PhoneCheckTest, AcceptsNationalNumbersWithTheDefaultCallingCode) {
    EXPECT_EQ(PhoneCheck(1).problem("(650) 253-0000"), "");
    EXPECT_EQ(PhoneCheck(44).problem("020 7946 0958"), "");
}

TEST_F(PhoneCheckTest, RefusesNationalNumbersWithoutADefault) {
    EXPECT_EQ(PhoneCheck(0).problem("650 253 0000"),
              "invalid phone number: national number without a country calling code");
}

TEST_F(PhoneCheckTest, RefusesNumbersOutsideTheNumberingPlan) {
    EXPECT_EQ(PhoneCheck(1).problem("+1 555 123 4567"),
              "invalid phone number: not a valid number in the +1 numbering plan");
}

TEST_F(PhoneCheckTest, RefusesWhatIsNoPhoneNumber) {
    EXPECT_EQ(PhoneCheck(1).problem("hello"), "invalid phone number: not a phone number");
    EXPECT_EQ(PhoneCheck(44).problem("12"),
              "invalid phone number: not a valid number in the +44 numbering plan");
}

TEST_F(PhoneCheckTest, RefusesAnUnknownCountryCode) {
    EXPECT_EQ(PhoneCheck(1).problem("+999 1234 5678"),
              "invalid phone number: unknown country calling code");
}

}  // namespace
}  // namespace storegate::identity
