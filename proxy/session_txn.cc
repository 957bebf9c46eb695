// Transaction pooling: a session holds a server connection only from the first message of a
// transaction to the ReadyForQuery that ends it, and everything that must outlive one
// transaction (settings, prepared statements, the store itself) follows the client from one
// server connection to the next.
#include <algorithm>
#include <cctype>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "common/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/session.h"

namespace storegate::proxy {

namespace pf = protocol::frontend;
namespace pb = protocol::backend;
using Expect = ResponseQueue::Expect;
using Action = ResponseQueue::Action;

namespace {

// A server connection's relay buffer beyond this size is not kept (return_relay_buffer).
constexpr size_t kKeptRelayBuffer = 64 * 1024;

std::string error_bytes(std::string_view code, std::string message) {
    std::string out;
    protocol::ErrorFields error{"ERROR", std::string(code), std::move(message), "", ""};
    protocol::append_error(out, error);
    return out;
}

std::string ready_bytes(char status) {
    std::string out;
    protocol::append_ready_for_query(out, status);
    return out;
}

std::string set_config_sql(const std::string& name, const std::string& value) {
    return "SELECT pg_catalog.set_config(" + protocol::quote_literal(name) + ", " +
           protocol::quote_literal(value) + ", false)";
}

// Rebuilds a message whose body starts with `keep` and `name` cstrings, naming `new_name`
// instead; the rest of the body stays in the input buffer and is not copied.
void rename_reference(Outbound& out, char type, std::string_view keep, std::string_view new_name,
                      size_t rest_offset, size_t rest_length) {
    std::string head;
    head.push_back(type);
    uint32_t len = static_cast<uint32_t>(4 + keep.size() + new_name.size() + 1 + rest_length);
    for (int shift = 24; shift >= 0; shift -= 8) {
        head.push_back(static_cast<char>((len >> shift) & 0xff));
    }
    head.append(keep);
    head.append(new_name);
    head.push_back('\0');
    out.add_bytes(head);
    out.add_input(rest_offset, rest_length);
}

PinReason to_pin_reason(sql::Pin pin) {
    return static_cast<PinReason>(static_cast<int>(pin) - 1);
}

// "a"."b": each part of a dotted setting name quoted on its own, as SET expects.
std::string quote_setting(std::string_view name) {
    std::string out;
    size_t start = 0;
    for (;;) {
        size_t dot = name.find('.', start);
        out += protocol::quote_identifier(name.substr(start, dot - start));
        if (dot == std::string_view::npos) {
            return out;
        }
        out.push_back('.');
        start = dot + 1;
    }
}

// The settings change a statement makes, for the client to keep once it has run.
std::optional<ResponseQueue::Change> setting_change(const sql::Inspection& seen) {
    if (seen.kind == sql::Kind::kSet) {
        return ResponseQueue::Change{
            seen.name, "SET " + quote_setting(seen.name) + " TO " + seen.value, false};
    }
    if (seen.kind == sql::Kind::kReset) {
        return ResponseQueue::Change{seen.name, "", true};
    }
    if (seen.kind == sql::Kind::kResetAll || seen.kind == sql::Kind::kDiscardAll) {
        return ResponseQueue::Change{"", "", true};
    }
    return std::nullopt;
}

std::string lower_ascii(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

// Whether a multi-statement query string may drop prepared statements (DEALLOCATE, DISCARD):
// a word search, so a mention in a string literal counts too, which costs only a re-prepare.
bool may_deallocate(std::string_view text) {
    std::string lower = lower_ascii(text);
    return lower.find("deallocate") != std::string::npos ||
           lower.find("discard") != std::string::npos;
}

}  // namespace

void Session::init_settings() {
    for (const auto& [name, value] : request_.session_params) {
        // Setting names are case-insensitive; SET and RESET name them in lower case.
        startup_settings_[lower_ascii(name)] = set_config_sql(name, value);
    }
    settings_ = startup_settings_;
    if (route_.store && route_.backend->kind == registry::BackendKind::kShared) {
        settings_["storegate.store_id"] =
            set_config_sql("storegate.store_id", route_.store->id.to_string());
    }
}

// The statements that make the server connection's settings the client's: only what differs.
// Limitation: a setting applied over another client's value keeps what that value implies, so
// a partial DateStyle (SET DateStyle = SQL) takes its other half (DMY/MDY) from the server
// connection's previous user - matters only for clients that set half of DateStyle while
// others use a different field order.
std::string Session::settings_sync_sql() {
    auto& applied = server_->applied_settings();
    std::string sql;
    if (server_->prepared_dirty) {
        sql = "DEALLOCATE ALL";
        server_->prepared().clear();
        server_->prepared_dirty = false;
    }
    if (server_->settings_dirty) {
        // DISCARD ALL's first two steps: RESET ALL leaves the role alone.
        sql +=
            (sql.empty() ? "" : "; ") + std::string("SET SESSION AUTHORIZATION DEFAULT; RESET ALL");
        applied.clear();
        server_->settings_dirty = false;
    }
    for (auto it = applied.begin(); it != applied.end();) {
        if (!settings_.contains(it->first)) {
            sql += (sql.empty() ? "" : "; ") + std::string("RESET ") + quote_setting(it->first);
            it = applied.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [name, statement] : settings_) {
        auto found = applied.find(name);
        if (found == applied.end() || found->second != statement) {
            sql += (sql.empty() ? "" : "; ") + statement;
            applied[name] = statement;
        }
    }
    return sql;
}

awaitable<void> Session::run_transaction_mode() {
    transaction_mode_ = true;
    release_server();  // attach() left it holding this client's settings
    for (;;) {
        // Awaited here rather than in a helper coroutine: a waiting client keeps one frame
        // fewer.
        auto into = client_read_buffer();
        auto [ec, n] = co_await client_.read_some(into);
        if (ec) {
            client_done_ = true;
            break;
        }
        client_read_done(into, n);
        size_t pos = 0;
        bool terminate = false;
        bool ok = co_await scan_client_chunk(pos, terminate);
        if (ok) {
            ok = co_await flush_chunk();
        }
        client_in_.consume(pos);
        if (!ok || terminate || client_garbled_) {
            client_done_ = client_done_ || terminate;
            break;
        }
    }
    co_await stop_server_pump();
}

// An idle client (no server connection, nothing buffered) waits on a small buffer inside the
// session instead of its read buffer, which is released meanwhile: thousands of idle clients
// then cost little more than their session objects.
asio::mutable_buffer Session::client_read_buffer() {
    if (!client_in_.empty() || server_) {
        auto space = client_in_.prepare(1);
        return asio::buffer(space.data(), space.size());
    }
    client_in_.shrink_if_empty();
    queue_.release_if_empty();
    return asio::buffer(idle_read_);
}

void Session::client_read_done(asio::mutable_buffer into, size_t n) {
    if (into.data() == idle_read_.data()) {
        client_in_.append(idle_read_.data(), n);
    } else {
        client_in_.commit(n);
    }
}

awaitable<bool> Session::scan_client_chunk(size_t& pos, bool& terminate) {
    for (;;) {
        auto item = client_scan_.next(client_in_.bytes(), pos);
        if (item.kind == MessageScanner::Kind::kNeedMore) {
            client_in_.reserve(item.need);
            co_return true;
        }
        if (item.kind == MessageScanner::Kind::kInvalid) {
            client_garbled_ = true;
            co_return true;
        }
        if (item.kind == MessageScanner::Kind::kWhole && item.type == pf::kTerminate) {
            terminate = true;
            pos += item.size;
            co_return true;
        }
        bool ok = co_await on_client_message(item, pos);
        if (!ok) {
            co_return false;
        }
        pos += item.size;
    }
}

awaitable<bool> Session::on_client_message(const MessageScanner::Item& item, size_t pos) {
    if (item.kind == MessageScanner::Kind::kPass) {
        co_return co_await on_marked(item.messages > 0 ? item.type : '\0', pos, item.size);
    }
    if (skip_to_sync_) {
        co_return true;  // after a local error the server would discard these too
    }
    switch (item.type) {
        case pf::kQuery:
            co_return co_await on_query(item.body, pos, item.size);
        case pf::kParse:
            co_return co_await on_parse(item.body, pos, item.size);
        case pf::kExecute:
            co_return co_await on_execute(item.body, pos, item.size);
        default:
            co_return co_await on_statement_ref(item.type, item.body, pos, item.size);
    }
}

// Execute, Sync, Flush, FunctionCall and COPY traffic, and runs of other messages.
// Limitation: message types storegate does not know pass to the server, which closes on them,
// and a malformed message it parses ends the connection only after the Sync before it was
// answered - matters only for broken or hostile clients.
awaitable<bool> Session::on_marked(char type, size_t pos, size_t size) {
    if (type == pf::kSync && client_status_ == 'I') {
        local_.end_transaction();
    }
    if (type == pf::kSync && skip_to_sync_) {
        skip_to_sync_ = false;
        unsynced_ = false;
        if (!server_) {
            answer_locally(ready_bytes(client_status_), false);
            co_return true;
        }
    } else if (skip_to_sync_) {
        co_return true;
    }
    if (type == pf::kFlush && !server_ && !unsynced_) {
        co_return true;  // only storegate's own answers are pending: they go out with the chunk
    }
    // Without a server, anything queued is an answer storegate gives itself.
    if (type == pf::kSync && !server_ && !unsynced_) {
        answer_locally(ready_bytes(client_status_), false);
        co_return true;
    }
    bool ok = co_await ensure_server();
    if (!ok) {
        co_return false;
    }
    switch (type) {
        case pf::kExecute:
            queue_.push(Expect::kExecute);
            unsynced_ = true;
            break;
        case pf::kSync:
            queue_.push_sync(std::move(batch_change_));
            batch_change_.reset();
            unsynced_ = false;
            break;
        case pf::kFunctionCall:
            queue_.push(Expect::kFunctionCall);
            break;
        case pf::kFlush:
            unsynced_ = true;
            break;
        default:
            break;  // COPY data and the rest of a message already accounted for
    }
    to_server_.add_input(pos, size);
    co_return true;
}

void Session::answer_locally(std::string bytes, bool in_extended_batch) {
    queue_.push(in_extended_batch ? Expect::kParse : Expect::kQuery, Action::kSynthesize,
                std::move(bytes));
}

void Session::local_error(std::string_view code, std::string message, bool in_extended_batch) {
    if (in_extended_batch) {
        answer_locally(error_bytes(code, std::move(message)), true);
        skip_to_sync_ = true;
        return;
    }
    answer_locally(error_bytes(code, std::move(message)) + ready_bytes(client_status_), false);
}

// The store now lives on another backend: only shared backends carry storegate.store_id.
void Session::retarget_settings() {
    settings_.erase("storegate.store_id");
    if (route_.backend->kind == registry::BackendKind::kShared) {
        settings_["storegate.store_id"] =
            set_config_sql("storegate.store_id", route_.store->id.to_string());
    }
    services_.metrics.retargeted();
    probe_.bind_route(route_);
    log::info("store retargeted {}", log_fields());
}

bool Session::switch_route(const sql::Inspection& set, std::string& code, std::string& message) {
    RouteDecision next;
    std::optional<protocol::ErrorFields> refused;
    if (set.name == "storegate.store") {
        refused = resolve_store(set.value, services_.routing, next);
    } else if (set.name == "storegate.tenant") {
        RouteRequest request;
        request.kind = TargetKind::kTenant;
        request.key = set.value;
        refused = resolve_route(request, runtime_->config->routing, services_.routing, next);
    } else {
        code = "42704";
        message = "unrecognized configuration parameter \"" + set.name + "\"";
        return false;
    }
    if (refused) {
        code = refused->code;
        message = refused->message;
        return false;
    }
    next.source = "set";
    route_changed_ = route_changed_ || !route_.backend ||
                     next.backend->db_key != route_.backend->db_key || server_ != nullptr;
    route_ = std::move(next);
    settings_.erase("storegate.store_id");
    if (route_.store && route_.backend->kind == registry::BackendKind::kShared) {
        settings_["storegate.store_id"] =
            set_config_sql("storegate.store_id", route_.store->id.to_string());
    }
    probe_.bind_route(route_);
    return true;
}

// A store switch pipelined behind requests still on the server waits for their answers: only
// then is it known whether they left a transaction open.
awaitable<bool> Session::settle_pipeline() {
    if (!server_ || queue_.empty() || unsynced_) {
        co_return true;  // unsynced: the server answers only at Sync, set_storegate refuses
    }
    bool flushed = co_await flush_chunk();
    if (!flushed) {
        co_return false;
    }
    settling_ = true;
    while (server_pump_running_ && !queue_.empty()) {
        co_await wake_.async_wait(nothrow);
    }
    settling_ = false;
    co_return true;
}

// Limitation: an error raised here inside a transaction block leaves the block usable (status
// T) where PostgreSQL would abort it - matters for applications that rely on that abort.
// Checks and applies SET storegate.* between transactions; false after a local error. An
// extended-protocol batch with work on the server is an implicit transaction, so the store
// cannot change there either.
// Limitation: a switch to a store whose backend cannot be reached is accepted; the client's next
// transaction then fails to get a server connection and ends the connection - matters for
// applications that switch to stores on backends that are down.
bool Session::set_storegate(const sql::Inspection& seen, bool in_extended_batch) {
    if (client_status_ != 'I' || (server_ && unsynced_)) {
        local_error("25001", "SET " + seen.name + " cannot run inside a transaction block",
                    in_extended_batch);
        return false;
    }
    if (pinned_ != sql::Pin::kNone) {
        local_error("0A000", "cannot change the store of a pinned session", in_extended_batch);
        return false;
    }
    std::string code;
    std::string message;
    if (!switch_route(seen, code, message)) {
        local_error(code, message, in_extended_batch);
        return false;
    }
    return true;
}

std::string Session::storegate_value(const sql::Inspection& seen) const {
    if (seen.name == "storegate.store" && route_.store) {
        return route_.store->id.to_string();
    }
    if (seen.name == "storegate.tenant" && route_.tenant) {
        return route_.tenant->id.to_string();
    }
    return "";
}

// Limitation: settings changed by one statement of a multi-statement query string are not
// carried over (SET storegate.* there is refused with 0A000) - matters only for clients that
// batch settings with other statements.
// Limitation: RESET, RESET ALL and DISCARD ALL leave the store as it is, and SET ... TO DEFAULT
// is taken for a store name - matters for clients that reset to the store they connected to.
awaitable<bool> Session::on_query(std::string_view body, size_t pos, size_t size) {
    std::string_view text;
    protocol::parse_query(body, text);
    auto seen = sql::inspect(text);
    std::string local;
    if (seen.storegate_setting) {
        local_error("0A000",
                    "SET and RESET of storegate settings must be sent as a query of their own, "
                    "not with other statements",
                    false);
        co_return true;
    }
    switch (seen.kind) {
        case sql::Kind::kSetStoregate: {
            bool ok = co_await settle_pipeline();
            if (ok && set_storegate(seen, false)) {
                protocol::append_command_complete(local, "SET");
                answer_locally(local + ready_bytes('I'), false);
            }
            co_return ok;
        }
        case sql::Kind::kShowStoregate: {
            bool ok = co_await settle_pipeline();  // the status it reports follows what is ahead
            if (!ok) {
                co_return false;
            }
            protocol::append_row_description(local, {seen.name});
            protocol::append_data_row(local, {storegate_value(seen)});
            protocol::append_command_complete(local, "SHOW");
            answer_locally(local + ready_bytes(client_status_), false);
            co_return true;
        }
        case sql::Kind::kDeallocate:
            if (local_.close('S', seen.name) || statements_.erase(seen.name) > 0) {
                protocol::append_command_complete(local, "DEALLOCATE");
                answer_locally(local + ready_bytes(client_status_), false);
                co_return true;
            }
            break;
        case sql::Kind::kDeallocateAll:
            statements_.clear();
            local_.clear();
            if (pinned_ != sql::Pin::kSqlPrepare) {
                protocol::append_command_complete(local, "DEALLOCATE ALL");
                answer_locally(local + ready_bytes(client_status_), false);
                co_return true;
            }
            break;
        default:
            break;
    }
    // Limitation: a pinned session stays pinned until DISCARD ALL in a simple query, or until it
    // disconnects, even once its LISTEN, lock or temporary table is gone - matters for
    // long-lived connections that pin once.
    if (seen.pin != sql::Pin::kNone && pinned_ == sql::Pin::kNone) {
        if (runtime_->config->pool.pinning == config::Pinning::kError) {
            local_error("0A000",
                        std::string(sql::to_string(seen.pin)) +
                            " keeps state on the server connection, which transaction pooling "
                            "does not allow here (pool.pinning = \"error\")",
                        false);
            co_return true;
        }
        pinned_ = seen.pin;
        probe_.pin(to_pin_reason(seen.pin));
        log::info("session pinned {} reason={}", log_fields(), sql::to_string(seen.pin));
    }
    bool ok = co_await ensure_server();
    if (!ok) {
        co_return false;
    }
    auto change = setting_change(seen);
    if (seen.untracked_state) {
        server_->settings_dirty = true;  // reset before this connection serves a transaction
    }
    if (seen.kind == sql::Kind::kDeallocate || seen.kind == sql::Kind::kDeallocateAll ||
        (seen.multiple && may_deallocate(text))) {
        server_->prepared_dirty = true;  // it may drop statements other clients share
    }
    if (seen.kind == sql::Kind::kDiscardAll) {
        statements_.clear();
        local_.clear();
        server_->prepared().clear();
        pinned_ = sql::Pin::kNone;
        probe_.unpin_all();
    }
    queue_.push_query(std::move(change));
    to_server_.add_input(pos, size);
    co_return true;
}

void Session::apply_change(const ResponseQueue::Change& change, char status) {
    // Limitation: a SET made inside a transaction block is not carried to the client's later
    // transactions on other server connections - matters for applications that change session
    // settings inside explicit transactions rather than between them.
    if (status != 'I') {
        // Set inside a transaction block: it may or may not survive the transaction, so the
        // next client of this server connection starts from a clean slate.
        server_->settings_dirty = true;
        return;
    }
    auto& applied = server_->applied_settings();
    if (change.name.empty()) {
        settings_ = startup_settings_;
        if (route_.store && route_.backend->kind == registry::BackendKind::kShared) {
            settings_["storegate.store_id"] =
                set_config_sql("storegate.store_id", route_.store->id.to_string());
        }
        applied.clear();
        server_->settings_dirty = true;
        return;
    }
    if (change.reset) {
        // RESET goes back to the value the client started with, as on PostgreSQL.
        auto startup = startup_settings_.find(change.name);
        if (startup != startup_settings_.end()) {
            settings_[change.name] = startup->second;
        } else {
            settings_.erase(change.name);
        }
        applied.erase(change.name);
        server_->settings_dirty =
            server_->settings_dirty || startup_settings_.contains(change.name);
        return;
    }
    settings_[change.name] = change.value;
    applied[change.name] = change.value;
}

void Session::ensure_prepared(const Statement& statement, Action action) {
    if (server_->prepared().contains(statement.internal_name)) {
        return;
    }
    std::string parse;
    parse.push_back(pf::kParse);
    uint32_t len =
        static_cast<uint32_t>(4 + statement.internal_name.size() + 1 + statement.definition.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        parse.push_back(static_cast<char>((len >> shift) & 0xff));
    }
    parse += statement.internal_name;
    parse.push_back('\0');
    parse += statement.definition;
    to_server_.add_bytes(parse);
    queue_.push_parse(statement.internal_name, action);
    auto evicted = server_->prepared().add(
        statement.internal_name, static_cast<size_t>(runtime_->config->pool.prepared_cache_size));
    if (evicted) {
        std::string close;
        close.push_back(pf::kClose);
        uint32_t clen = static_cast<uint32_t>(4 + 1 + evicted->size() + 1);
        for (int shift = 24; shift >= 0; shift -= 8) {
            close.push_back(static_cast<char>((clen >> shift) & 0xff));
        }
        close.push_back('S');
        close += *evicted;
        close.push_back('\0');
        to_server_.add_bytes(close);
        queue_.push(Expect::kClose, Action::kSwallow);
    }
}

awaitable<bool> Session::on_parse(std::string_view body, size_t pos, size_t size) {
    protocol::ParseMessage parse;
    if (!protocol::parse_parse(body, parse)) {
        client_garbled_ = true;
        co_return true;
    }
    auto seen = sql::inspect(parse.query);
    bool taken = !parse.name.empty() && (statements_.contains(std::string(parse.name)) ||
                                         local_.statement(parse.name) != nullptr);
    if (taken) {
        local_error("42P05",
                    "prepared statement \"" + std::string(parse.name) + "\" already exists", true);
        co_return true;
    }
    if (answered_locally(seen)) {
        local_.define(parse.name, seen);
        if (parse.name.empty()) {
            unnamed_change_.reset();
        }
        std::string done;
        protocol::append_parse_complete(done);
        answer_locally(std::move(done), true);
        co_return true;
    }
    local_.server_parse(parse.name);
    unsynced_ = true;
    if (seen.pin != sql::Pin::kNone && runtime_->config->pool.pinning == config::Pinning::kError) {
        local_error("0A000",
                    std::string(sql::to_string(seen.pin)) +
                        " keeps state on the server connection, which transaction pooling does "
                        "not allow here (pool.pinning = \"error\")",
                    true);
        co_return true;
    }
    if (seen.pin != sql::Pin::kNone && pinned_ == sql::Pin::kNone) {
        pinned_ = seen.pin;
        probe_.pin(to_pin_reason(seen.pin));
    }
    if (parse.name.empty()) {
        unnamed_change_ = setting_change(seen);
    } else if (auto change = setting_change(seen)) {
        named_changes_[std::string(parse.name)] = std::move(*change);
    }
    bool ok = co_await ensure_server();
    if (!ok) {
        co_return false;
    }
    if (seen.untracked_state) {
        server_->settings_dirty = true;
    }
    if (seen.kind == sql::Kind::kDeallocate || seen.kind == sql::Kind::kDeallocateAll ||
        seen.kind == sql::Kind::kDiscardAll) {
        // Run by the server (a SQL-level PREPARE of a pinned session, or DISCARD ALL): the
        // statements shared on this connection may go with it.
        server_->prepared_dirty = true;
        if (seen.kind == sql::Kind::kDiscardAll) {
            statements_.clear();
            local_.clear();
        }
    }
    if (parse.name.empty()) {
        queue_.push(Expect::kParse);
        to_server_.add_input(pos, size);
        co_return true;
    }
    auto definition = body.substr(parse.name.size() + 1);
    auto statement = make_statement(definition);
    statements_[std::string(parse.name)] = statement;
    if (server_->prepared().contains(statement->internal_name)) {
        std::string done;
        protocol::append_parse_complete(done);
        answer_locally(std::move(done), true);
        co_return true;
    }
    // The renamed Parse stands in for the client's: its answer is the client's answer.
    ensure_prepared(*statement, Action::kForward);
    co_return true;
}

// A Bind of a statement that sets or resets a setting: its batch changes the client's settings.
// Limitation: only the last SET or RESET of one Sync batch is carried over - matters only for
// clients that pipeline several of them into one Sync.
void Session::note_bound_change(std::string_view statement) {
    if (statement.empty()) {
        if (unnamed_change_) {
            batch_change_ = unnamed_change_;
        }
        return;
    }
    if (named_changes_.empty()) {
        return;
    }
    auto it = named_changes_.find(std::string(statement));
    if (it != named_changes_.end()) {
        batch_change_ = it->second;
    }
}

awaitable<bool> Session::on_statement_ref(char type, std::string_view body, size_t pos,
                                          size_t size) {
    std::string_view first;
    std::string_view name;
    char kind = 'S';
    bool parsed = false;
    if (type == pf::kBind) {
        parsed = protocol::parse_bind_names(body, first, name);
    } else if (type == pf::kDescribe || type == pf::kClose) {
        parsed = protocol::parse_describe_or_close(body, kind, name);
        first = body.substr(0, 1);
    }
    if (!parsed) {
        client_garbled_ = true;
        co_return true;
    }
    if (type == pf::kBind ? local_.bind(first, name) : answer_local_statement(type, kind, name)) {
        if (type == pf::kBind) {
            std::string done;
            protocol::append_bind_complete(done);
            answer_locally(std::move(done), true);
        }
        co_return true;
    }
    if (type == pf::kBind) {
        local_.server_bind(first);
    }
    unsynced_ = true;
    bool statement_ref = type == pf::kBind || kind == 'S';
    if (type == pf::kClose && kind == 'S' && !name.empty()) {
        // Statements are shared on the server; only the client's own name goes away.
        statements_.erase(std::string(name));
        named_changes_.erase(std::string(name));
        std::string done;
        protocol::append_close_complete(done);
        answer_locally(std::move(done), true);
        co_return true;
    }
    std::shared_ptr<const Statement> statement;
    if (statement_ref && !name.empty()) {
        auto it = statements_.find(std::string(name));
        if (it == statements_.end()) {
            local_error("26000", "prepared statement \"" + std::string(name) + "\" does not exist",
                        true);
            co_return true;
        }
        statement = it->second;
    }
    if (type == pf::kBind) {
        note_bound_change(name);
    }
    bool ok = co_await ensure_server();
    if (!ok) {
        co_return false;
    }
    Expect expect = type == pf::kBind    ? Expect::kBind
                    : type == pf::kClose ? Expect::kClose
                    : kind == 'S'        ? Expect::kDescribeStatement
                                         : Expect::kDescribePortal;
    if (!statement) {
        queue_.push(expect);
        to_server_.add_input(pos, size);
        co_return true;
    }
    ensure_prepared(*statement, Action::kSwallow);
    std::string keep(first);
    if (type == pf::kBind) {
        keep.push_back('\0');
    }
    size_t header = protocol::kHeaderSize;
    size_t rest = first.size() + (type == pf::kBind ? 1 : 0) + name.size() + 1;
    queue_.push(expect);
    rename_reference(to_server_, type, keep, statement->internal_name, pos + header + rest,
                     size - header - rest);
    co_return true;
}

// Describe or Close of a statement or portal storegate holds itself: answered here (true), or
// false when it is the server's.
bool Session::answer_local_statement(char type, char kind, std::string_view name) {
    const sql::Inspection* seen = kind == 'S' ? local_.statement(name) : local_.portal(name);
    if (seen == nullptr) {
        return false;
    }
    std::string reply;
    if (type == pf::kClose) {
        local_.close(kind, name);
        protocol::append_close_complete(reply);
    } else {
        if (kind == 'S') {
            protocol::append_parameter_description(reply, {});
        }
        if (seen->kind == sql::Kind::kShowStoregate) {
            protocol::append_row_description(reply, {seen->name});
        } else {
            protocol::append_no_data(reply);
        }
    }
    answer_locally(std::move(reply), true);
    return true;
}

// What storegate answers itself in the extended protocol: its own settings, and DEALLOCATE of
// the client's protocol-level statements (which live on the server under shared names that
// must stay).
// Limitation: a DEALLOCATE or DISCARD ALL the server runs makes the next transaction on that
// server connection start with DEALLOCATE ALL, re-preparing every shared statement - matters
// only for the cost of workloads that send them often.
bool Session::answered_locally(const sql::Inspection& seen) const {
    switch (seen.kind) {
        case sql::Kind::kSetStoregate:
        case sql::Kind::kShowStoregate:
            return true;
        case sql::Kind::kDeallocate:
            return statements_.contains(seen.name) || local_.statement(seen.name) != nullptr;
        case sql::Kind::kDeallocateAll:
            return pinned_ != sql::Pin::kSqlPrepare;
        default:
            return false;
    }
}

void Session::deallocate_locally(const sql::Inspection& seen) {
    std::string reply;
    if (seen.kind == sql::Kind::kDeallocateAll) {
        statements_.clear();
        named_changes_.clear();
        local_.clear();
        protocol::append_command_complete(reply, "DEALLOCATE ALL");
    } else if (local_.close('S', seen.name) || statements_.erase(seen.name) > 0) {
        named_changes_.erase(seen.name);
        protocol::append_command_complete(reply, "DEALLOCATE");
    } else {
        local_error("26000", "prepared statement \"" + seen.name + "\" does not exist", true);
        return;
    }
    answer_locally(std::move(reply), true);
}

// Execute of a portal storegate holds runs here; any other goes to the server.
// Limitation: Bind parameters and result formats of these portals are not checked, a finished
// portal runs again, and row limits are ignored - matters only for unusual clients.
awaitable<bool> Session::on_execute(std::string_view body, size_t pos, size_t size) {
    std::string_view portal;
    int32_t max_rows = 0;
    if (!protocol::parse_execute(body, portal, max_rows)) {
        client_garbled_ = true;
        co_return true;
    }
    const sql::Inspection* seen = local_.portal(portal);
    if (seen == nullptr) {
        co_return co_await on_marked(pf::kExecute, pos, size);
    }
    std::string reply;
    if (seen->kind == sql::Kind::kShowStoregate) {
        protocol::append_data_row(reply, {storegate_value(*seen)});
        protocol::append_command_complete(reply, "SHOW");
        answer_locally(std::move(reply), true);
        co_return true;
    }
    if (seen->kind == sql::Kind::kDeallocate || seen->kind == sql::Kind::kDeallocateAll) {
        deallocate_locally(*seen);
        co_return true;
    }
    sql::Inspection set = *seen;
    bool ok = co_await settle_pipeline();
    if (!ok) {
        co_return false;
    }
    if (set_storegate(set, true)) {
        protocol::append_command_complete(reply, "SET");
    } else {
        co_return true;
    }
    answer_locally(std::move(reply), true);
    co_return true;
}

awaitable<bool> Session::ensure_server() {
    if (server_ && !route_changed_) {
        if (pinned_ == sql::Pin::kNone || activity_.active()) {
            co_return true;
        }
        co_return co_await admit_pinned();
    }
    if (server_) {
        // The store changed while a pipelined transaction still runs on the old server:
        // wait for it to end there.
        bool flushed = co_await flush_chunk();
        if (!flushed) {
            co_return false;
        }
        while (server_pump_running_) {
            co_await wake_.async_wait(nothrow);
        }
        if (server_) {
            co_return false;
        }
    }
    route_changed_ = false;
    const auto& cfg = *runtime_->config;
    // Each transaction starts on the store's current route and waits while it is paused.
    bool moved = false;
    bool passed = co_await pass_store_gate(moved);
    if (!passed) {
        co_return false;
    }
    if (moved) {
        retarget_settings();
    }
    pool_ = services_.pools.get(route_.backend->db_key, cfg);
    probe_.waiting();
    auto checkout = co_await pool_->acquire(worker_.index, route_.backend);
    probe_.acquired(checkout.conn.get());
    if (!checkout.conn) {
        protocol::ErrorFields error = checkout.error;
        // Limitation: a transaction that waits past pool.wait_timeout ends the client connection
        // (FATAL) instead of failing only itself, and a cancel sent while it waits is dropped
        // (the query runs once a connection frees up) - matters for clients that outlive a
        // saturated pool or cancel queued queries.
        co_await fail(error, "no_server");
        co_return false;
    }
    server_ = std::move(checkout.conn);
    server_in_.swap_storage(server_->relay_buffer());
    server_buffer_lent_ = true;
    log::debug("txn acquire session={} server={}", id_, server_->id());
    cancel_target_->set({server_->endpoint(), server_->backend_pid(), server_->backend_secret()});
    std::string sync = settings_sync_sql();
    if (!sync.empty()) {
        std::string query;
        protocol::append_query(query, sync);
        to_server_.add_bytes(query);
        queue_.push(Expect::kQuery, Action::kSwallow);
    }
    co_return true;
}

// Admits the session's next transaction through its store's gate (waiting while the store is
// paused); `moved` says whether the store's route changed. False: the session was ended.
awaitable<bool> Session::pass_store_gate(bool& moved) {
    const auto& cfg = *runtime_->config;
    auto gate = co_await admit_store(services_.store_control, route_, activity_, route_generation_,
                                     cfg.retarget.pause_timeout, gate_error_);
    if (gate == GateOutcome::kPausedTimeout) {
        services_.metrics.pause_event(PauseEvent::kWaitTimeout);
    }
    if (gate == GateOutcome::kPausedTimeout || gate == GateOutcome::kGone) {
        gate_error_.severity = "FATAL";
        co_await fail(gate_error_, "store_paused");
        co_return false;
    }
    moved = gate == GateOutcome::kMoved;
    co_return true;
}

// A pinned session keeps its server connection between transactions but not its place among
// the store's transactions in flight (so a pause can be confirmed while it idles): each of its
// transactions passes the store's gate like any other. A store moved to another backend
// cannot take the pinned state along, so the session ends as a session-mode one would.
awaitable<bool> Session::admit_pinned() {
    bool moved = false;
    bool passed = co_await pass_store_gate(moved);
    if (!passed) {
        co_return false;
    }
    if (moved && route_.backend->db_key != pool_->db_key()) {
        activity_.leave();
        services_.metrics.drain_event(DrainEvent::kClosed);
        auto error = store_moved_error(route_);
        co_await fail(error, "store_moved");
        co_return false;
    }
    co_return true;
}

// The server pump starts once the first request of a transaction is on its way, so it never
// sees an attached server with nothing asked of it.
void Session::start_server_pump() {
    server_pump_running_ = true;
    auto self = shared_from_this();
    asio::co_spawn(client_.executor(), pump_server_txn(), [self](std::exception_ptr) {
        self->server_pump_running_ = false;
        self->wake_.cancel();
    });
}

// Both pumps write to the client; a ticket taken before the first suspension keeps their
// writes in the order their contents were produced.
awaitable<error_code> Session::write_client(Outbound& out, const uint8_t* input) {
    uint64_t ticket = write_tickets_++;
    while (write_serving_ != ticket) {
        co_await wake_.async_wait(nothrow);
    }
    auto [ec, n] = co_await client_.write(out.buffers(input));
    ++write_serving_;
    wake_.cancel();
    out.clear();
    co_return ec;
}

// Sends what a chunk of client input produced: its messages to the server, and answers that
// are due now to the client.
awaitable<bool> Session::flush_chunk() {
    log::debug("txn flush session={} to_server={} server={} queue={}", id_, !to_server_.empty(),
               server_ != nullptr, queue_.size());
    if (!to_server_.empty() && server_) {
        writing_server_ = true;
        auto [ec, n] = co_await server_->stream().write(to_server_.buffers(client_in_.data()));
        writing_server_ = false;
        to_server_.clear();
        if (ec) {
            server_lost_ = true;
            co_return false;
        }
        probe_.client_bytes(n);
        if (!server_pump_running_) {
            start_server_pump();
        }
    }
    std::string due;
    queue_.take_due(due);
    if (!due.empty()) {
        local_reply_.add_bytes(due);
        auto ec = co_await write_client(local_reply_, nullptr);
        if (ec) {
            client_done_ = true;
            co_return false;
        }
    }
    if (server_ && release_due()) {
        error_code ignored;
        server_->socket().cancel(ignored);  // wakes the server pump to hand the server back
    }
    co_return true;
}

bool Session::release_due() const {
    return server_ && queue_.empty() && server_->tx_status() == 'I' && !unsynced_ &&
           pinned_ == sql::Pin::kNone && !writing_server_ && server_scan_.at_boundary() &&
           client_scan_.at_boundary() && server_in_.empty() && !skip_to_sync_;
}

// Gives the server connection its relay buffer back, unless a large answer grew it: a
// connection keeps only a buffer of the usual size.
void Session::return_relay_buffer() {
    if (!server_buffer_lent_) {
        return;
    }
    server_buffer_lent_ = false;
    auto& lent = server_->relay_buffer();
    lent.swap_storage(server_in_);
    if (lent.capacity() > kKeptRelayBuffer) {
        lent.shrink_if_empty();
    }
}

void Session::release_server() {
    return_relay_buffer();
    cancel_target_->clear();
    pool_->release(std::move(server_), true, worker_.index);
    activity_.leave();
    server_in_.shrink_if_empty();
    probe_.released();
}

// The server refused to prepare a statement: it is not there, and when the Parse was the
// client's own, its name does not exist either (protocol docs, "Extended Query": a failed
// Parse creates nothing). A re-prepare for a Bind that fails leaves the client's name alone.
// Limitation: messages pipelined behind the failed Parse were already checked as if it had
// succeeded - matters only for clients that pipeline past a failing Parse.
void Session::forget_statement(const std::string& internal_name, bool client_parse) {
    server_->prepared().erase(internal_name);
    if (!client_parse) {
        return;
    }
    std::erase_if(statements_,
                  [&](const auto& entry) { return entry.second->internal_name == internal_name; });
}

void Session::on_server_whole(const MessageScanner::Item& item, std::string& before, bool& forward,
                              std::string& after) {
    auto outcome = queue_.on_server_message(item.type, before, after);
    forward = outcome.forward;
    for (const auto& failed : outcome.failed_parses) {
        forget_statement(failed.statement, failed.client);
    }
    if (item.type == pb::kParameterStatus) {
        std::string_view name;
        std::string_view value;
        if (protocol::parse_parameter_status(item.body, name, value)) {
            server_->set_param(name, value);
        }
    } else if (item.type == pb::kReadyForQuery) {
        char status = 'I';
        protocol::parse_ready_for_query(item.body, status);
        server_->set_tx_status(status);
        if (forward) {
            client_status_ = status;
            probe_.ready_for_query(status, !queue_.empty());
        }
        if (status == 'I' && queue_.empty() && pinned_ != sql::Pin::kNone) {
            activity_.leave();  // between transactions; the next one passes admit_pinned()
        }
        if (outcome.change && !outcome.query_failed) {
            apply_change(*outcome.change, status);
        }
    } else if (item.type == pb::kErrorResponse && !forward) {
        protocol::ErrorFields error;
        protocol::parse_error_fields(item.body, error);
        if (log::allow("settings_sync_failed")) {
            log::warn("settings sync failed {} sqlstate={} message=\"{}\"", log_fields(),
                      error.code, error.message);
        }
        server_->settings_dirty = true;
    }
}

awaitable<void> Session::pump_server_txn() {
    std::string before;
    std::string after;
    for (;;) {
        if (release_due()) {
            log::debug("txn release session={}", id_);
            release_server();
            co_return;
        }
        auto space = server_in_.prepare(1);
        auto [ec, n] =
            co_await server_->stream().read_some(asio::buffer(space.data(), space.size()));
        if (ec == asio::error::operation_aborted && !client_done_) {
            continue;
        }
        if (ec) {
            server_lost_ = !client_done_;
            if (server_lost_) {
                co_await report_server_lost();
            }
            co_return;
        }
        server_in_.commit(n);
        log::debug("txn server read session={} bytes={} queue={}", id_, n, queue_.size());
        size_t pos = 0;
        for (;;) {
            auto item = server_scan_.next(server_in_.bytes(), pos);
            if (item.kind == MessageScanner::Kind::kPass) {
                bool swallow = false;
                std::string due;
                queue_.take_due(due);
                to_client_.add_bytes(due);
                swallow = queue_.front_swallows();
                if (!swallow) {
                    to_client_.add_input(pos, item.size);
                }
                pos += item.size;
                continue;
            }
            if (item.kind == MessageScanner::Kind::kWhole) {
                bool forward = true;
                before.clear();
                after.clear();
                on_server_whole(item, before, forward, after);
                to_client_.add_bytes(before);
                if (forward) {
                    to_client_.add_input(pos, item.size);
                }
                to_client_.add_bytes(after);
                pos += item.size;
                continue;
            }
            if (item.kind == MessageScanner::Kind::kInvalid) {
                server_lost_ = true;
                co_await report_server_lost();
                co_return;
            }
            server_in_.reserve(item.need);
            break;
        }
        auto wec = co_await write_client(to_client_, server_in_.data());
        probe_.server_bytes(pos);
        server_in_.consume(pos);
        if (settling_ && queue_.empty()) {
            wake_.cancel();  // a store switch waits for this
        }
        if (wec) {
            client_done_ = true;
            error_code ignored;
            client_.socket().cancel(ignored);
            co_return;
        }
    }
}

// The server connection died under the client: tell the client and end the session (its
// transaction, if any, is gone with the server).
awaitable<void> Session::report_server_lost() {
    to_client_.clear();
    std::string error;
    protocol::ErrorFields fields{
        "FATAL", "08006",
        "server connection for db_key \"" + route_.backend->db_key + "\" was lost", "", ""};
    protocol::append_error(error, fields);
    to_client_.add_bytes(error);
    co_await write_client(to_client_, nullptr);
    client_done_ = true;
    client_.close();
}

awaitable<void> Session::stop_server_pump() {
    while (server_pump_running_) {
        if (server_) {
            error_code ignored;
            server_->socket().cancel(ignored);
        }
        co_await wake_.async_wait(nothrow);
    }
}

}  // namespace storegate::proxy
