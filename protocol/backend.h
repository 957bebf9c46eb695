// Backend (server -> client) messages: builders storegate uses to talk to clients as if it
// were the server, and parsers for the ones it must understand when reading a real server.
// Builders append one complete message to `out` (protocol docs, "Message Formats").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/errors.h"

namespace storegate::protocol {

// Message type bytes (server -> client).
namespace backend {
inline constexpr char kAuthentication = 'R';
inline constexpr char kBackendKeyData = 'K';
inline constexpr char kBindComplete = '2';
inline constexpr char kCloseComplete = '3';
inline constexpr char kCommandComplete = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyInResponse = 'G';
inline constexpr char kCopyOutResponse = 'H';
inline constexpr char kCopyBothResponse = 'W';
inline constexpr char kDataRow = 'D';
inline constexpr char kEmptyQueryResponse = 'I';
inline constexpr char kErrorResponse = 'E';
inline constexpr char kFunctionCallResponse = 'V';
inline constexpr char kNegotiateProtocolVersion = 'v';
inline constexpr char kNoData = 'n';
inline constexpr char kNoticeResponse = 'N';
inline constexpr char kNotificationResponse = 'A';
inline constexpr char kParameterDescription = 't';
inline constexpr char kParameterStatus = 'S';
inline constexpr char kParseComplete = '1';
inline constexpr char kPortalSuspended = 's';
inline constexpr char kReadyForQuery = 'Z';
inline constexpr char kRowDescription = 'T';
}  // namespace backend

// Authentication request codes.
inline constexpr int32_t kAuthOk = 0;
inline constexpr int32_t kAuthCleartext = 3;
inline constexpr int32_t kAuthMd5 = 5;
inline constexpr int32_t kAuthSasl = 10;
inline constexpr int32_t kAuthSaslContinue = 11;
inline constexpr int32_t kAuthSaslFinal = 12;

void append_auth_ok(std::string& out);
void append_auth_cleartext(std::string& out);
void append_auth_md5(std::string& out, const uint8_t salt[4]);
void append_auth_sasl(std::string& out, const std::vector<std::string>& mechanisms);
void append_auth_sasl_continue(std::string& out, std::string_view data);
void append_auth_sasl_final(std::string& out, std::string_view data);
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
void append_backend_key_data(std::string& out, int32_t pid, int32_t secret);
void append_ready_for_query(std::string& out, char status);
void append_error(std::string& out, const ErrorFields& fields);
void append_notice(std::string& out, const ErrorFields& fields);
void append_command_complete(std::string& out, std::string_view tag);
void append_empty_query_response(std::string& out);
// Row description with all columns of type text, and data rows of text values (for answers
// storegate gives itself, such as SHOW). Column i of a data row is NULL when nulls[i] is true;
// a `nulls` shorter than `values` leaves the remaining columns non-null.
void append_row_description(std::string& out, const std::vector<std::string>& columns);
void append_data_row(std::string& out, const std::vector<std::string>& values);
void append_data_row(std::string& out, const std::vector<std::string>& values,
                     const std::vector<bool>& nulls);
void append_parse_complete(std::string& out);
void append_bind_complete(std::string& out);
void append_close_complete(std::string& out);
void append_no_data(std::string& out);
void append_parameter_description(std::string& out, const std::vector<int32_t>& type_oids);
// Answer to a StartupMessage asking for a later 3.x minor version or for protocol options
// ("_pq_." parameters) storegate does not know: the newest version it speaks (3.0 = 3 << 16,
// as PostgreSQL sends it) and the options it ignored. The client then proceeds with that
// version.
void append_negotiate_protocol_version(std::string& out, int32_t newest_version,
                                       const std::vector<std::string>& unrecognized_options);

// Parsed Authentication request from a server.
struct AuthRequest {
    int32_t code = -1;
    uint8_t md5_salt[4] = {0, 0, 0, 0};
    std::vector<std::string> mechanisms;  // kAuthSasl
    std::string data;                     // kAuthSaslContinue / kAuthSaslFinal
};
bool parse_auth_request(std::string_view body, AuthRequest& out);
bool parse_error_fields(std::string_view body, ErrorFields& out);
bool parse_parameter_status(std::string_view body, std::string_view& name, std::string_view& value);
bool parse_backend_key_data(std::string_view body, int32_t& pid, int32_t& secret);
// ReadyForQuery transaction status: 'I' idle, 'T' in a transaction, 'E' failed transaction.
bool parse_ready_for_query(std::string_view body, char& status);

}  // namespace storegate::protocol
