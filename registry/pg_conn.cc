#include "registry/pg_conn.h"

#include "common/log.h"

namespace storegate::registry {

namespace {

std::string one_line(const char* message) {
    std::string out = message == nullptr ? "" : message;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    // libpq continues a message on tab-indented lines; logs want one line.
    std::string flat;
    for (char c : out) {
        bool space = c == '\n' || c == '\t' || c == ' ';
        if (!space || (!flat.empty() && flat.back() != ' ')) {
            flat += space ? ' ' : c;
        }
    }
    return flat;
}

// Whether libpq can parse `dsn` at all. Its parse errors quote the offending text, which may be
// a password, so they are replaced by a fixed message.
bool parses(const std::string& dsn) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    PQfreemem(error);
    if (options == nullptr) {
        return false;
    }
    PQconninfoFree(options);
    return true;
}

}  // namespace

bool PgResult::ok() const {
    if (!result_) {
        return false;
    }
    ExecStatusType status = PQresultStatus(result_.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string PgResult::error() const {
    if (!result_) {
        return "no result from the server";
    }
    return one_line(PQresultErrorMessage(result_.get()));
}

bool PgResult::is_null(int row, int column) const {
    return PQgetisnull(result_.get(), row, column) != 0;
}

std::string PgResult::text(int row, int column) const {
    return is_null(row, column) ? std::string() : PQgetvalue(result_.get(), row, column);
}

PgConn::PgConn(const std::string& dsn, const std::string& application_name) {
    if (!parses(dsn)) {
        parse_error_ = "invalid registry DSN (not a libpq connection string or URI)";
        return;
    }
    // The defaults come first so that anything the DSN itself sets wins. TCP keepalives and a
    // user timeout make a silently dead registry link fail within seconds instead of hanging a
    // query until the kernel gives up.
    const char* keywords[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
    const char* values[] = {"10",   application_name.c_str(), "10", "5", "3", "20000", dsn.c_str(),
                            nullptr};
    conn_.reset(PQconnectdbParams(keywords, values, 1));
    // libpq prints NOTICEs to stderr by default; they are routine here (IF NOT EXISTS).
    PQsetNoticeProcessor(
        conn_.get(),
        [](void*, const char* message) {
            log::debug("registry notice msg=\"{}\"", one_line(message));
        },
        nullptr);
}

bool PgConn::ok() const {
    return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

std::string PgConn::error() const {
    if (!parse_error_.empty()) {
        return parse_error_;
    }
    if (!conn_) {
        return "out of memory";
    }
    return one_line(PQerrorMessage(conn_.get()));
}

PgResult PgConn::exec(const std::string& sql) const {
    return PgResult(PQexec(get(), sql.c_str()));
}

PgResult PgConn::exec(const std::string& sql, const std::vector<std::string>& params) const {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) {
        values.push_back(p.c_str());
    }
    return PgResult(PQexecParams(get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0));
}

std::string PgConn::exec_all(std::initializer_list<std::string_view> statements) const {
    for (std::string_view sql : statements) {
        PgResult result = exec(std::string(sql));
        if (!result.ok()) {
            return result.error();
        }
    }
    return {};
}

}  // namespace storegate::registry
