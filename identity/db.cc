#include "identity/db.h"

#include <iostream>

namespace storegate::identity {

namespace {

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value == nullptr ? std::string() : std::string(value);
}

std::string trimmed(const char* message) {
    std::string out = message == nullptr ? "" : message;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

// Warnings from the server go to stderr; NOTICEs (IF NOT EXISTS and the like) are routine.
void on_notice(void*, const PGresult* result) {
    std::string severity = field(result, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity == "WARNING") {
        std::cerr << "storegate identity: warning: " << field(result, PG_DIAG_MESSAGE_PRIMARY)
                  << "\n";
    }
}

// Checks a result and turns a failure into DbError, keeping the server's fields.
PGresult* checked(PGresult* result, PGconn* conn) {
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        return result;
    }
    if (result == nullptr) {
        throw DbError(trimmed(PQerrorMessage(conn)));
    }
    DbError error(field(result, PG_DIAG_MESSAGE_PRIMARY), field(result, PG_DIAG_SQLSTATE),
                  field(result, PG_DIAG_MESSAGE_DETAIL), field(result, PG_DIAG_MESSAGE_HINT));
    if (std::string(error.what()).empty()) {
        error = DbError(trimmed(PQresultErrorMessage(result)));
    }
    PQclear(result);
    throw error;
}

struct ParamArray {
    std::vector<const char*> values;

    explicit ParamArray(const Params& params) {
        values.reserve(params.size());
        for (const auto& param : params) {
            values.push_back(param ? param->c_str() : nullptr);
        }
    }
};

}  // namespace

DbError::DbError(const std::string& message, std::string sqlstate, std::string detail,
                 std::string hint)
    : std::runtime_error(message),
      sqlstate_(std::move(sqlstate)),
      detail_(std::move(detail)),
      hint_(std::move(hint)) {}

bool Rows::is_null(int row, int column) const {
    return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view Rows::text(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

std::optional<std::string> Rows::get(int row, int column) const {
    if (is_null(row, column)) {
        return std::nullopt;
    }
    return std::string(text(row, column));
}

Db::Db(const std::string& dsn) : conn_(nullptr, &PQfinish) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &parse_error);
    PQfreemem(parse_error);
    if (options == nullptr) {
        throw DbError("invalid --dsn: not a libpq connection string or URI");
    }
    PQconninfoFree(options);

    // Defaults first, so that whatever the DSN sets wins (expand_dbname).
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "storegate-identity", dsn.c_str(), nullptr};
    conn_.reset(PQconnectdbParams(keywords, values, 1));
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw DbError("cannot connect: " + trimmed(PQerrorMessage(conn_.get())));
    }
    PQsetNoticeReceiver(conn_.get(), &on_notice, nullptr);
}

Rows Db::query(const std::string& sql, const Params& params) {
    ParamArray array(params);
    PGresult* result = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()),
                                    nullptr, array.values.data(), nullptr, nullptr, 0);
    return Rows(checked(result, conn_.get()));
}

void Db::script(const std::string& sql) {
    Rows done(checked(PQexec(conn_.get(), sql.c_str()), conn_.get()));
}

void Db::send(const std::string& sql, const Params& params) {
    ParamArray array(params);
    if (PQsendQueryParams(conn_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                          array.values.data(), nullptr, nullptr, 0) == 0) {
        throw DbError(trimmed(PQerrorMessage(conn_.get())));
    }
}

Rows Db::wait() {
    Rows rows = take_result();
    // A statement yields one result, then NULL; drain so the connection is ready again.
    while (PGresult* extra = PQgetResult(conn_.get())) {
        PQclear(extra);
    }
    return rows;
}

Rows Db::take_result() {
    PGresult* result = PQgetResult(conn_.get());
    if (result == nullptr) {
        throw DbError("no statement in flight");
    }
    try {
        return Rows(checked(result, conn_.get()));
    } catch (const DbError&) {
        while (PGresult* extra = PQgetResult(conn_.get())) {
            PQclear(extra);
        }
        throw;
    }
}

}  // namespace storegate::identity
