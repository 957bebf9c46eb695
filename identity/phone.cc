#include "identity/phone.h"

#if STOREGATE_HAVE_PHONENUMBER
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#endif

namespace storegate::identity {

#if STOREGATE_HAVE_PHONENUMBER

namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

std::string parse_problem(PhoneNumberUtil::ErrorType error, bool has_default_region) {
    switch (error) {
        case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
            return has_default_region
                       ? "invalid phone number: unknown country calling code"
                       : "invalid phone number: national number without a country calling code";
        case PhoneNumberUtil::NOT_A_NUMBER:
            return "invalid phone number: not a phone number";
        case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
        case PhoneNumberUtil::TOO_SHORT_NSN:
            return "invalid phone number: too short";
        case PhoneNumberUtil::TOO_LONG_NSN:
            return "invalid phone number: too long";
        default:
            return "invalid phone number: cannot be parsed";
    }
}

}  // namespace

PhoneCheck::PhoneCheck(int default_calling_code) : region_("ZZ") {
    if (default_calling_code > 0) {
        PhoneNumberUtil::GetInstance()->GetRegionCodeForCountryCode(default_calling_code, &region_);
    }
}

std::string PhoneCheck::problem(std::string_view raw) const {
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    PhoneNumberUtil::ErrorType error = util.Parse(std::string(raw), region_, &number);
    if (error != PhoneNumberUtil::NO_PARSING_ERROR) {
        return parse_problem(error, region_ != "ZZ");
    }
    if (!util.IsValidNumber(number)) {
        return "invalid phone number: not a valid number in the +" +
               std::to_string(number.country_code()) + " numbering plan";
    }
    return {};
}

bool PhoneCheck::available() {
    return true;
}

#else

// Limitation: built without libphonenumber, phone numbers get the SQL prefix and length checks
// only - numbers that match those but cannot exist are stored.
PhoneCheck::PhoneCheck(int) : region_("ZZ") {}

std::string PhoneCheck::problem(std::string_view) const {
    return {};
}

bool PhoneCheck::available() {
    return false;
}

#endif

}  // namespace storegate::identity
