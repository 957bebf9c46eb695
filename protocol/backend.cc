#include "protocol/backend.h"

#include <algorithm>

#include "protocol/reader.h"
#include "protocol/wire.h"

namespace storegate::protocol {

namespace {

constexpr int32_t kTextOid = 25;
constexpr int16_t kVariableLength = -1;
constexpr int32_t kNoTypmod = -1;
constexpr int16_t kTextFormat = 0;
constexpr int32_t kNullLength = -1;

void append_auth(std::string& out, int32_t code, std::string_view extra) {
    const size_t at = wire::begin(out, backend::kAuthentication);
    wire::put_i32(out, code);
    out.append(extra);
    wire::finish(out, at);
}

// "Error and Notice Message Fields": S is the possibly localized severity and V the one that
// never is; storegate does not localize, so both carry the same word.
void append_fields(std::string& out, char type, const ErrorFields& fields) {
    const size_t at = wire::begin(out, type);
    const auto field = [&out](char tag, std::string_view value) {
        out.push_back(tag);
        wire::put_cstring(out, value);
    };
    field('S', fields.severity);
    field('V', fields.severity);
    field('C', fields.code);
    field('M', fields.message);
    if (!fields.detail.empty()) {
        field('D', fields.detail);
    }
    if (!fields.hint.empty()) {
        field('H', fields.hint);
    }
    out.push_back('\0');
    wire::finish(out, at);
}

}  // namespace

// "AuthenticationOk", "AuthenticationCleartextPassword", "AuthenticationMD5Password".
void append_auth_ok(std::string& out) {
    append_auth(out, kAuthOk, {});
}

void append_auth_cleartext(std::string& out) {
    append_auth(out, kAuthCleartext, {});
}

void append_auth_md5(std::string& out, const uint8_t salt[4]) {
    append_auth(out, kAuthMd5, std::string_view(reinterpret_cast<const char*>(salt), 4));
}

// "AuthenticationSASL": each mechanism name as a String, then an empty String.
void append_auth_sasl(std::string& out, const std::vector<std::string>& mechanisms) {
    const size_t at = wire::begin(out, backend::kAuthentication);
    wire::put_i32(out, kAuthSasl);
    for (const auto& mechanism : mechanisms) {
        wire::put_cstring(out, mechanism);
    }
    out.push_back('\0');
    wire::finish(out, at);
}

void append_auth_sasl_continue(std::string& out, std::string_view data) {
    append_auth(out, kAuthSaslContinue, data);
}

void append_auth_sasl_final(std::string& out, std::string_view data) {
    append_auth(out, kAuthSaslFinal, data);
}

void append_parameter_status(std::string& out, std::string_view name, std::string_view value) {
    const size_t at = wire::begin(out, backend::kParameterStatus);
    wire::put_cstring(out, name);
    wire::put_cstring(out, value);
    wire::finish(out, at);
}

void append_backend_key_data(std::string& out, int32_t pid, int32_t secret) {
    const size_t at = wire::begin(out, backend::kBackendKeyData);
    wire::put_i32(out, pid);
    wire::put_i32(out, secret);
    wire::finish(out, at);
}

void append_ready_for_query(std::string& out, char status) {
    const size_t at = wire::begin(out, backend::kReadyForQuery);
    out.push_back(status);
    wire::finish(out, at);
}

void append_error(std::string& out, const ErrorFields& fields) {
    append_fields(out, backend::kErrorResponse, fields);
}

void append_notice(std::string& out, const ErrorFields& fields) {
    append_fields(out, backend::kNoticeResponse, fields);
}

void append_command_complete(std::string& out, std::string_view tag) {
    const size_t at = wire::begin(out, backend::kCommandComplete);
    wire::put_cstring(out, tag);
    wire::finish(out, at);
}

void append_empty_query_response(std::string& out) {
    wire::empty_message(out, backend::kEmptyQueryResponse);
}

// "RowDescription": per column its name, no table (oid 0, attribute 0), type text, variable
// length, no typmod, text format.
void append_row_description(std::string& out, const std::vector<std::string>& columns) {
    const size_t at = wire::begin(out, backend::kRowDescription);
    wire::put_i16(out, static_cast<int16_t>(columns.size()));
    for (const auto& name : columns) {
        wire::put_cstring(out, name);
        wire::put_i32(out, 0);
        wire::put_i16(out, 0);
        wire::put_i32(out, kTextOid);
        wire::put_i16(out, kVariableLength);
        wire::put_i32(out, kNoTypmod);
        wire::put_i16(out, kTextFormat);
    }
    wire::finish(out, at);
}

void append_data_row(std::string& out, const std::vector<std::string>& values) {
    append_data_row(out, values, {});
}

// "DataRow": per column an Int32 length (-1 for NULL) and that many bytes.
void append_data_row(std::string& out, const std::vector<std::string>& values,
                     const std::vector<bool>& nulls) {
    const size_t at = wire::begin(out, backend::kDataRow);
    wire::put_i16(out, static_cast<int16_t>(values.size()));
    for (size_t i = 0; i < values.size(); ++i) {
        if (i < nulls.size() && nulls[i]) {
            wire::put_i32(out, kNullLength);
            continue;
        }
        wire::put_i32(out, static_cast<int32_t>(values[i].size()));
        out.append(values[i]);
    }
    wire::finish(out, at);
}

void append_parse_complete(std::string& out) {
    wire::empty_message(out, backend::kParseComplete);
}

void append_bind_complete(std::string& out) {
    wire::empty_message(out, backend::kBindComplete);
}

void append_close_complete(std::string& out) {
    wire::empty_message(out, backend::kCloseComplete);
}

void append_no_data(std::string& out) {
    wire::empty_message(out, backend::kNoData);
}

void append_parameter_description(std::string& out, const std::vector<int32_t>& type_oids) {
    const size_t at = wire::begin(out, backend::kParameterDescription);
    wire::put_i16(out, static_cast<int16_t>(type_oids.size()));
    for (const int32_t oid : type_oids) {
        wire::put_i32(out, oid);
    }
    wire::finish(out, at);
}

// "NegotiateProtocolVersion": Int32 newest version (PostgreSQL sends major << 16 | minor),
// Int32 count, then the option names.
void append_negotiate_protocol_version(std::string& out, int32_t newest_version,
                                       const std::vector<std::string>& unrecognized_options) {
    const size_t at = wire::begin(out, backend::kNegotiateProtocolVersion);
    wire::put_i32(out, newest_version);
    wire::put_i32(out, static_cast<int32_t>(unrecognized_options.size()));
    for (const auto& option : unrecognized_options) {
        wire::put_cstring(out, option);
    }
    wire::finish(out, at);
}

namespace {

bool read_mechanisms(Reader& r, std::vector<std::string>& out) {
    for (;;) {
        std::string_view name;
        if (!r.cstring(name)) {
            return false;
        }
        if (name.empty()) {
            return r.at_end();
        }
        out.emplace_back(name);
    }
}

}  // namespace

// "Authentication*" messages: an Int32 code, then what that code carries. Codes storegate
// does not speak (Kerberos, GSSAPI, SSPI) are reported with their payload in `data`, so the
// caller can refuse them by name.
bool parse_auth_request(std::string_view body, AuthRequest& out) {
    Reader r(body);
    out = AuthRequest{};
    if (!r.i32(out.code)) {
        return false;
    }
    switch (out.code) {
        case kAuthOk:
        case kAuthCleartext:
            return r.at_end();
        case kAuthMd5: {
            std::string_view salt;
            if (!r.bytes(4, salt) || !r.at_end()) {
                return false;
            }
            std::copy(salt.begin(), salt.end(), out.md5_salt);
            return true;
        }
        case kAuthSasl:
            return read_mechanisms(r, out.mechanisms);
        default:
            out.data = std::string(r.rest());
            return true;
    }
}

// Unknown field types are skipped, as the protocol docs ask of clients: more may be added.
bool parse_error_fields(std::string_view body, ErrorFields& out) {
    Reader r(body);
    out = ErrorFields{};
    out.severity.clear();
    for (;;) {
        uint8_t tag = 0;
        std::string_view value;
        if (!r.u8(tag)) {
            return false;
        }
        if (tag == 0) {
            return r.at_end();
        }
        if (!r.cstring(value)) {
            return false;
        }
        switch (tag) {
            case 'S':
                if (out.severity.empty()) {
                    out.severity = value;
                }
                break;
            case 'V':
                out.severity = value;  // never localized, so preferred over S
                break;
            case 'C':
                out.code = value;
                break;
            case 'M':
                out.message = value;
                break;
            case 'D':
                out.detail = value;
                break;
            case 'H':
                out.hint = value;
                break;
            default:
                break;
        }
    }
}

bool parse_parameter_status(std::string_view body, std::string_view& name,
                            std::string_view& value) {
    Reader r(body);
    return r.cstring(name) && r.cstring(value) && r.at_end();
}

bool parse_backend_key_data(std::string_view body, int32_t& pid, int32_t& secret) {
    Reader r(body);
    return r.i32(pid) && r.i32(secret) && r.at_end();
}

bool parse_ready_for_query(std::string_view body, char& status) {
    if (body.size() != 1 || (body[0] != 'I' && body[0] != 'T' && body[0] != 'E')) {
        return false;
    }
    status = body[0];
    return true;
}

}  // namespace storegate::protocol
