#include "protocol/frontend.h"

#include "protocol/reader.h"
#include "protocol/startup.h"
#include "protocol/wire.h"

namespace storegate::protocol {

namespace {

constexpr int32_t kNoData = -1;

// The untyped packets of "Start-up": an Int32 length that counts itself, then the body.
void append_untyped(std::string& out, const std::string& body) {
    wire::put_u32(out, static_cast<uint32_t>(body.size() + 4));
    out.append(body);
}

}  // namespace

// "StartupMessage": protocol 3.0, name/value Strings, then a terminating zero byte.
void append_startup(std::string& out,
                    const std::vector<std::pair<std::string, std::string>>& params) {
    std::string body;
    wire::put_u32(body, kProtocol30);
    for (const auto& [name, value] : params) {
        wire::put_cstring(body, name);
        wire::put_cstring(body, value);
    }
    body.push_back('\0');
    append_untyped(out, body);
}

void append_ssl_request(std::string& out) {
    wire::put_u32(out, 8);
    wire::put_u32(out, kSslRequestCode);
}

void append_cancel_request(std::string& out, int32_t pid, int32_t secret) {
    wire::put_u32(out, 16);
    wire::put_u32(out, kCancelRequestCode);
    wire::put_i32(out, pid);
    wire::put_i32(out, secret);
}

void append_password(std::string& out, std::string_view password) {
    const size_t at = wire::begin(out, frontend::kPassword);
    wire::put_cstring(out, password);
    wire::finish(out, at);
}

// "SASLInitialResponse": mechanism name, Int32 length of the client-first message, the message.
void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data) {
    const size_t at = wire::begin(out, frontend::kPassword);
    wire::put_cstring(out, mechanism);
    wire::put_i32(out, static_cast<int32_t>(data.size()));
    out.append(data);
    wire::finish(out, at);
}

// "SASLResponse": the mechanism's data, unframed.
void append_sasl_response(std::string& out, std::string_view data) {
    const size_t at = wire::begin(out, frontend::kPassword);
    out.append(data);
    wire::finish(out, at);
}

void append_query(std::string& out, std::string_view sql) {
    const size_t at = wire::begin(out, frontend::kQuery);
    wire::put_cstring(out, sql);
    wire::finish(out, at);
}

void append_sync(std::string& out) {
    wire::empty_message(out, frontend::kSync);
}

void append_terminate(std::string& out) {
    wire::empty_message(out, frontend::kTerminate);
}

bool parse_password(std::string_view body, std::string_view& password) {
    Reader r(body);
    return r.cstring(password) && r.at_end();
}

// A length of -1 means the client sent no initial data.
bool parse_sasl_initial_response(std::string_view body, std::string_view& mechanism,
                                 std::string_view& data) {
    Reader r(body);
    int32_t length = 0;
    if (!r.cstring(mechanism) || !r.i32(length)) {
        return false;
    }
    if (length == kNoData) {
        data = {};
        return r.at_end();
    }
    return length >= 0 && r.bytes(static_cast<size_t>(length), data) && r.at_end();
}

bool parse_query(std::string_view body, std::string_view& sql) {
    Reader r(body);
    return r.cstring(sql) && r.at_end();
}

// "Parse": statement name, query, Int16 count of parameter types, that many Int32 oids.
bool parse_parse(std::string_view body, ParseMessage& out) {
    Reader r(body);
    int16_t count = 0;
    if (!r.cstring(out.name) || !r.cstring(out.query) || !r.i16(count) || count < 0) {
        return false;
    }
    out.param_types.clear();
    out.param_types.reserve(static_cast<size_t>(count));
    for (int16_t i = 0; i < count; ++i) {
        int32_t oid = 0;
        if (!r.i32(oid)) {
            return false;
        }
        out.param_types.push_back(oid);
    }
    return r.at_end();
}

bool parse_bind_names(std::string_view body, std::string_view& portal,
                      std::string_view& statement) {
    Reader r(body);
    return r.cstring(portal) && r.cstring(statement);
}

bool parse_describe_or_close(std::string_view body, char& kind, std::string_view& name) {
    Reader r(body);
    uint8_t k = 0;
    if (!r.u8(k) || (k != 'S' && k != 'P') || !r.cstring(name) || !r.at_end()) {
        return false;
    }
    kind = static_cast<char>(k);
    return true;
}

bool parse_execute(std::string_view body, std::string_view& portal, int32_t& max_rows) {
    Reader r(body);
    return r.cstring(portal) && r.i32(max_rows) && r.at_end();
}

// As the server's quote_literal: quotes and backslashes are doubled, and a literal holding a
// backslash takes the E'' form so it reads the same whatever standard_conforming_strings is.
std::string quote_literal(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 3);
    if (text.find('\\') != std::string_view::npos) {
        out.push_back('E');
    }
    out.push_back('\'');
    for (const char c : text) {
        if (c == '\'' || c == '\\') {
            out.push_back(c);
        }
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

// Always quoted (quote_ident only quotes when needed); quoting a name that needs none is
// harmless, and deciding when it is needed would require the server's keyword list.
std::string quote_identifier(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out.push_back('"');
    for (const char c : text) {
        if (c == '"') {
            out.push_back(c);
        }
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace storegate::protocol
