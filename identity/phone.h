// Checks phone numbers with libphonenumber before they reach the SQL normalisation. The SQL
// rules know prefixes and lengths only; libphonenumber knows each country's numbering plan, so
// the command-line tools refuse numbers that cannot exist. The stored form still comes from
// SQL (identity.normalize_phone), the one normalisation every path shares.
#pragma once

#include <string>
#include <string_view>

namespace storegate::identity {

class PhoneCheck {
  public:
    // `default_calling_code` is the tenant's (1, 44, ...), 0 when it has none: then only
    // numbers written with "+" or "00" pass.
    explicit PhoneCheck(int default_calling_code);

    // Empty when the number is valid, else why not ("invalid phone number: ...").
    std::string problem(std::string_view raw) const;

    // False when storegate was built without libphonenumber; problem() then accepts
    // everything and leaves the checks to SQL.
    static bool available();

  private:
    std::string region_;  // ISO region of the default calling code, "ZZ" when unknown
};

}  // namespace storegate::identity
