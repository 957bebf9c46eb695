// ErrorResponse / NoticeResponse fields (protocol docs, "Error and Notice Message Fields") and
// the SQLSTATE codes storegate itself raises.
#pragma once

#include <string>
#include <string_view>

namespace storegate::protocol {

namespace sqlstate {
inline constexpr std::string_view kProtocolViolation = "08P01";
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kConnectionRejected = "08004";
inline constexpr std::string_view kInvalidCatalogName = "3D000";
inline constexpr std::string_view kInvalidPassword = "28P01";
inline constexpr std::string_view kInvalidAuthorization = "28000";
inline constexpr std::string_view kTooManyConnections = "53300";
inline constexpr std::string_view kAdminShutdown = "57P01";
inline constexpr std::string_view kQueryCanceled = "57014";
inline constexpr std::string_view kFeatureNotSupported = "0A000";
inline constexpr std::string_view kActiveSqlTransaction = "25001";
inline constexpr std::string_view kDuplicatePreparedStatement = "42P05";
inline constexpr std::string_view kInvalidSqlStatementName = "26000";
inline constexpr std::string_view kInternalError = "XX000";
inline constexpr std::string_view kConfigFileError = "F0000";
inline constexpr std::string_view kSyntaxError = "42601";
inline constexpr std::string_view kUndefinedObject = "42704";
inline constexpr std::string_view kCannotConnectNow = "57P03";
}  // namespace sqlstate

struct ErrorFields {
    std::string severity = "ERROR";  // ERROR, FATAL, PANIC; WARNING, NOTICE, ... for notices
    std::string code;                // SQLSTATE
    std::string message;
    std::string detail;
    std::string hint;
};

}  // namespace storegate::protocol
