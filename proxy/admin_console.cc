#include "proxy/admin_console.h"

#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/admin_views.h"
#include "proxy/services.h"

namespace storegate::proxy {

namespace json = boost::json;
namespace pf = protocol::frontend;
using Kind = ConsoleCommand::Kind;

bool wants_console(const RouteRequest& request, const config::Config& config) {
    const auto& admins = config.admin.admin_users;
    return request.database == kConsoleDatabase &&
           std::find(admins.begin(), admins.end(), request.role) != admins.end();
}

namespace {

std::string trim(std::string_view text) {
    size_t begin = 0;
    size_t end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) {
        ++begin;
    }
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) {
        --end;
    }
    return std::string(text.substr(begin, end - begin));
}

std::string upper(std::string_view word) {
    std::string out(word);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// Statements separated by ';' outside '...' and "..." quotes; blank statements dropped.
std::vector<std::string> split_statements(std::string_view sql) {
    std::vector<std::string> out;
    char quote = 0;
    size_t start = 0;
    for (size_t i = 0; i <= sql.size(); ++i) {
        char c = i < sql.size() ? sql[i] : ';';
        if (quote != 0) {
            quote = c == quote ? 0 : quote;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == ';') {
            std::string statement = trim(sql.substr(start, i - start));
            if (!statement.empty()) {
                out.push_back(std::move(statement));
            }
            start = i + 1;
        }
    }
    return out;
}

// Words split at blanks and '='; a quoted word loses its quotes (a doubled quote is one).
std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (std::isspace(static_cast<unsigned char>(c)) || c == '=') {
            ++i;
            continue;
        }
        std::string word;
        if (c == '\'' || c == '"') {
            for (++i; i < text.size(); ++i) {
                if (text[i] == c && i + 1 < text.size() && text[i + 1] == c) {
                    word += c;
                    ++i;
                } else if (text[i] == c) {
                    ++i;
                    break;
                } else {
                    word += text[i];
                }
            }
        } else {
            while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) &&
                   text[i] != '=') {
                word += text[i++];
            }
        }
        out.push_back(std::move(word));
    }
    return out;
}

Kind show_kind(const std::string& what) {
    static const std::pair<const char*, Kind> kShows[] = {
        {"POOLS", Kind::kShowPools},     {"CLIENTS", Kind::kShowClients},
        {"SERVERS", Kind::kShowServers}, {"STATS", Kind::kShowStats},
        {"STORES", Kind::kShowStores},   {"INSTANCES", Kind::kShowInstances},
        {"HELP", Kind::kShowHelp},
    };
    for (const auto& [name, kind] : kShows) {
        if (what == name) {
            return kind;
        }
    }
    return Kind::kInvalid;
}

ConsoleCommand parse_statement(std::string text) {
    ConsoleCommand command;
    auto w = words(text);
    command.text = std::move(text);
    std::string verb = w.empty() ? "" : upper(w[0]);
    if (verb == "SHOW" && w.size() == 2) {
        command.kind = show_kind(upper(w[1]));
    } else if (verb == "SHOW" && w.size() == 3 && upper(w[1]) == "ROUTE") {
        command.kind = Kind::kShowRoute;
        command.argument = w[2];
    } else if ((verb == "PAUSE" || verb == "RESUME") && w.size() == 2) {
        command.kind = verb == "PAUSE" ? Kind::kPause : Kind::kResume;
        command.argument = w[1];
    } else if (verb == "RELOAD" && w.size() == 1) {
        command.kind = Kind::kReload;
    } else if (verb == "SET" && w.size() >= 3 && upper(w[1]) == "LOG_LEVEL" &&
               (w.size() == 3 || (w.size() == 4 && upper(w[2]) == "TO"))) {
        command.kind = Kind::kSetLogLevel;
        command.argument = w.back();
    } else {
        command.kind = Kind::kInvalid;
    }
    return command;
}

}  // namespace

std::vector<ConsoleCommand> parse_console(std::string_view sql) {
    std::vector<ConsoleCommand> out;
    for (auto& statement : split_statements(sql)) {
        out.push_back(parse_statement(std::move(statement)));
    }
    if (out.empty()) {
        out.push_back({});
    }
    return out;
}

namespace {

// The SQLSTATE for an admin action's HTTP-style outcome.
std::string_view sqlstate_for(int status) {
    switch (status) {
        case 400:
            return "22023";  // invalid_parameter_value
        case 404:
            return protocol::sqlstate::kInvalidCatalogName;
        case 409:
            return "40001";  // serialization_failure: read again and retry
        case 422:
            return protocol::sqlstate::kConfigFileError;
        case 501:
            return protocol::sqlstate::kFeatureNotSupported;
        default:
            return "58000";  // system_error: the registry could not be reached
    }
}

std::string cell(const json::value& v) {
    if (v.is_string()) {
        return std::string(v.as_string());
    }
    if (v.is_bool()) {
        return v.as_bool() ? "true" : "false";
    }
    return json::serialize(v);
}

void append_view(std::string& out, const std::vector<std::string>& columns,
                 const json::array& rows) {
    protocol::append_row_description(out, columns);
    std::vector<std::string> values(columns.size());
    std::vector<bool> nulls(columns.size());
    for (const auto& row : rows) {
        const json::object& object = row.as_object();
        for (size_t i = 0; i < columns.size(); ++i) {
            const json::value* v = object.if_contains(columns[i]);
            nulls[i] = v == nullptr || v->is_null();
            values[i] = nulls[i] ? std::string() : cell(*v);
        }
        protocol::append_data_row(out, values, nulls);
    }
    protocol::append_command_complete(out, "SHOW");
}

void append_error(std::string& out, std::string_view code, std::string message) {
    protocol::ErrorFields error{"ERROR", std::string(code), std::move(message), "", ""};
    protocol::append_error(out, error);
}

// ParameterStatus values a client library expects after login (protocol docs, "Start-up").
void append_console_parameters(std::string& out, const std::string& user) {
    static const std::pair<const char*, const char*> kParams[] = {
        {"server_version", "15.0 (storegate admin console)"},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"},
        {"TimeZone", "UTC"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"is_superuser", "off"},
    };
    for (const auto& [name, value] : kParams) {
        protocol::append_parameter_status(out, name, value);
    }
    protocol::append_parameter_status(out, "session_authorization", user);
}

class Console {
  public:
    Console(Services& services, ClientStream& client, ByteBuffer& in, SessionProbe& probe)
        : services_(services), client_(client), in_(in), info_(probe.entry().snapshot()) {}

    awaitable<void> run(std::string& greeting);

  private:
    awaitable<bool> answer(const std::string& sql);
    // Appends the command's answer to `out`; false when it was an error (the rest of the
    // query is skipped, as PostgreSQL skips the statements after a failed one).
    awaitable<bool> execute(const ConsoleCommand& command, std::string& out);
    awaitable<bool> execute_action(const ConsoleCommand& command, std::string& out);
    bool execute_show(const ConsoleCommand& command, std::string& out);
    bool append_reply(const AdminReply& reply, std::string_view tag, std::string& out);

    Services& services_;
    ClientStream& client_;
    ByteBuffer& in_;
    SessionInfo info_;
};

awaitable<void> Console::run(std::string& greeting) {
    append_console_parameters(greeting, info_.user);
    protocol::append_ready_for_query(greeting, 'I');
    auto [ec, n] = co_await client_.write(asio::buffer(greeting));
    if (ec) {
        co_return;
    }
    log::info("console opened session={} client={} user={}", info_.id, info_.client, info_.user);
    uint32_t max_message = services_.runtime()->config->server.max_message_size;
    size_t consumed = 0;
    bool skipping = false;  // after an extended-protocol message, until its Sync
    for (;;) {
        protocol::Frame frame;
        if (!co_await read_frame(client_, in_, consumed, max_message, frame)) {
            break;
        }
        std::string out;
        if (frame.type == pf::kTerminate) {
            break;
        }
        if (frame.type == pf::kQuery) {
            std::string_view sql;
            if (!protocol::parse_query(frame.body, sql)) {
                break;
            }
            std::string text(sql);
            if (!co_await answer(text)) {
                break;
            }
            continue;
        }
        if (frame.type == pf::kSync) {
            skipping = false;
            protocol::append_ready_for_query(out, 'I');
        } else if (!skipping) {
            skipping = true;
            append_error(out, protocol::sqlstate::kFeatureNotSupported,
                         "the admin console accepts only simple queries");
        }
        if (out.empty()) {
            continue;
        }
        auto [wec, written] = co_await client_.write(asio::buffer(out));
        if (wec) {
            break;
        }
    }
    log::info("console closed session={} client={} user={}", info_.id, info_.client, info_.user);
    client_.close();
}

awaitable<bool> Console::answer(const std::string& sql) {
    std::string out;
    for (const auto& command : parse_console(sql)) {
        if (!co_await execute(command, out)) {
            break;
        }
    }
    protocol::append_ready_for_query(out, 'I');
    auto [ec, n] = co_await client_.write(asio::buffer(out));
    co_return !ec;
}

awaitable<bool> Console::execute(const ConsoleCommand& command, std::string& out) {
    switch (command.kind) {
        case Kind::kEmpty:
            protocol::append_empty_query_response(out);
            co_return true;
        case Kind::kInvalid:
            append_error(out, protocol::sqlstate::kSyntaxError,
                         "unknown admin console command \"" + command.text +
                             "\"; SHOW HELP lists the commands");
            co_return false;
        case Kind::kPause:
        case Kind::kResume:
        case Kind::kReload:
        case Kind::kShowInstances:
            co_return co_await execute_action(command, out);
        case Kind::kSetLogLevel: {
            log::info("console command session={} user={} command=\"{}\"", info_.id, info_.user,
                      command.text);
            co_return append_reply(services_.admin.set_log_level(command.argument), "SET", out);
        }
        default:
            co_return execute_show(command, out);
    }
}

awaitable<bool> Console::execute_action(const ConsoleCommand& command, std::string& out) {
    if (command.kind == Kind::kShowInstances) {
        AdminReply reply = co_await services_.admin.instances();
        if (reply.status != 200) {
            co_return append_reply(reply, "", out);
        }
        append_view(out,
                    {"id", "address", "admin_address", "storegate_version", "started_at",
                     "heartbeat_at", "heartbeat_age_seconds", "applied_version", "self"},
                    reply.body["instances"].as_array());
        co_return true;
    }
    log::info("console command session={} user={} command=\"{}\"", info_.id, info_.user,
              command.text);
    std::string actor = "console " + info_.user + "@" + info_.client;
    AdminReply reply;
    if (command.kind == Kind::kReload) {
        reply = co_await services_.admin.reload();
        co_return append_reply(reply, "RELOAD", out);
    }
    bool pause = command.kind == Kind::kPause;
    reply = co_await services_.admin.set_paused(command.argument, pause, actor);
    co_return append_reply(reply, pause ? "PAUSE" : "RESUME", out);
}

bool Console::execute_show(const ConsoleCommand& command, std::string& out) {
    View view;
    switch (command.kind) {
        case Kind::kShowPools:
            view = pools_view(services_);
            break;
        case Kind::kShowClients:
            view = clients_view(services_);
            break;
        case Kind::kShowServers:
            view = servers_view(services_);
            break;
        case Kind::kShowStats:
            view = stats_view(services_);
            break;
        case Kind::kShowStores:
            view = stores_view(services_, 0, SIZE_MAX);
            break;
        case Kind::kShowRoute:
            view = route_view(services_, command.argument);
            if (view.rows.empty()) {
                append_error(out, protocol::sqlstate::kInvalidCatalogName,
                             "store \"" + command.argument + "\" does not exist");
                return false;
            }
            break;
        default:
            view = help_view();
            break;
    }
    append_view(out, view.columns, view.rows);
    return true;
}

bool Console::append_reply(const AdminReply& reply, std::string_view tag, std::string& out) {
    if (reply.status != 200) {
        const json::value* error = reply.body.if_contains("error");
        append_error(
            out, sqlstate_for(reply.status),
            error && error->is_string() ? std::string(error->as_string()) : "admin action failed");
        return false;
    }
    protocol::append_command_complete(out, tag);
    return true;
}

}  // namespace

awaitable<void> run_console(Services& services, ClientStream& client, ByteBuffer& in,
                            SessionProbe& probe, std::string& greeting) {
    probe.console();
    Console console(services, client, in, probe);
    co_await console.run(greeting);
}

}  // namespace storegate::proxy
