// Frontend (client -> server) messages: builders storegate uses when it is the client of a
// real server, and parsers for the client messages it must understand.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace storegate::protocol {

namespace frontend {
inline constexpr char kBind = 'B';
inline constexpr char kClose = 'C';
inline constexpr char kCopyData = 'd';
inline constexpr char kCopyDone = 'c';
inline constexpr char kCopyFail = 'f';
inline constexpr char kDescribe = 'D';
inline constexpr char kExecute = 'E';
inline constexpr char kFlush = 'H';
inline constexpr char kFunctionCall = 'F';
inline constexpr char kParse = 'P';
inline constexpr char kPassword = 'p';  // also SASLInitialResponse, SASLResponse, GSSResponse
inline constexpr char kQuery = 'Q';
inline constexpr char kSync = 'S';
inline constexpr char kTerminate = 'X';
}  // namespace frontend

void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params);
void append_ssl_request(std::string& out);
void append_cancel_request(std::string& out, int32_t pid, int32_t secret);
void append_password(std::string& out, std::string_view password);
void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data);
void append_sasl_response(std::string& out, std::string_view data);
void append_query(std::string& out, std::string_view sql);
void append_sync(std::string& out);
void append_terminate(std::string& out);

// Parsers of client messages (bodies, without the type byte and length).
bool parse_password(std::string_view body, std::string_view& password);
bool parse_sasl_initial_response(std::string_view body, std::string_view& mechanism,
                                 std::string_view& data);
bool parse_query(std::string_view body, std::string_view& sql);

// Parse: statement name, query text, parameter type oids.
struct ParseMessage {
    std::string_view name;
    std::string_view query;
    std::vector<int32_t> param_types;
};
bool parse_parse(std::string_view body, ParseMessage& out);
// Bind: only the names are needed to rewrite statement references.
bool parse_bind_names(std::string_view body, std::string_view& portal, std::string_view& statement);
// Describe and Close: 'S' (statement) or 'P' (portal), then the name.
bool parse_describe_or_close(std::string_view body, char& kind, std::string_view& name);
// Execute: the portal name and the row limit (0: no limit).
bool parse_execute(std::string_view body, std::string_view& portal, int32_t& max_rows);

// Quotes `text` as a SQL string literal ('...' with quotes doubled; E'' form when it holds a
// backslash) and as an identifier ("..." with quotes doubled).
std::string quote_literal(std::string_view text);
std::string quote_identifier(std::string_view text);

}  // namespace storegate::protocol
