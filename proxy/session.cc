#include "proxy/session.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "common/log.h"
#include "protocol/backend.h"
#include "protocol/frontend.h"
#include "proxy/admin_console.h"
#include "proxy/cancel_forward.h"
#include "proxy/client_tls.h"

namespace storegate::proxy {

using namespace asio::experimental::awaitable_operators;

// Errors are built into named objects before a co_await: GCC 12 mishandles the lifetime of
// aggregate temporaries inside co_await expressions.
static protocol::ErrorFields fatal_error(std::string_view code, std::string message) {
    return {"FATAL", std::string(code), std::move(message), "", ""};
}
namespace pf = protocol::frontend;
namespace pb = protocol::backend;

Session::Session(Services& services, Worker& worker, Socket socket)
    : services_(services),
      worker_(worker),
      client_(std::move(socket)),
      runtime_(services.runtime()),
      id_(services.next_session_id()),
      peer_(peer_name(client_.socket())),
      client_scan_(runtime_->config->server.max_message_size, {pf::kTerminate},
                   {pf::kQuery, pf::kSync, pf::kFunctionCall}),
      server_scan_(runtime_->config->server.max_message_size,
                   {pb::kReadyForQuery, pb::kParameterStatus}),
      cancel_target_(std::make_shared<CancelTarget>()),
      probe_(services.sessions, services.metrics, id_, worker.index, peer_) {
    worker_.clients.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
    if (cancel_key_.pid != 0) {
        services_.cancels.remove(cancel_key_.pid);
    }
    worker_.clients.fetch_sub(1, std::memory_order_relaxed);
}

std::string Session::log_fields() const {
    std::string store = route_.store ? route_.store->id.to_string()
                                     : (route_.tenant ? "tenant:" + route_.tenant->id.to_string()
                                                      : std::string("-"));
    return "session=" + std::to_string(id_) + " client=" + peer_ + " store=" + store +
           " db_key=" + (route_.backend ? route_.backend->db_key : std::string("-")) +
           " user=" + (request_.role.empty() ? std::string("-") : request_.role);
}

awaitable<void> Session::fail(const protocol::ErrorFields& error, std::string_view reason,
                              const std::string& prefix) {
    probe_.refused(reason, error.code);
    if (log::allow(reason)) {
        log::info("session refused {} sqlstate={} reason={} message=\"{}\"", log_fields(),
                  error.code, reason, error.message);
    }
    std::string out = prefix;
    protocol::append_error(out, error);
    co_await client_.write(asio::buffer(out));
    client_.close();
    client_done_ = true;  // a server pump still running (pinned sessions) stops too
}

// Startup, authentication, routing and admission, up to a server connection and the greeting
// sent: a coroutine of its own, so its frame (the greeting included) is freed before the
// session settles down to relay or wait.
awaitable<bool> Session::open() {
    std::string greeting;
    const auto& cfg = *runtime_->config;
    Watchdog deadline(client_.executor(), client_.socket());
    deadline.arm(cfg.server.startup_timeout);
    // Counted from accept so a flood of idle connections hits the limit; a refused one still
    // gets its startup read so the refusal reaches the client as an ErrorResponse.
    slot_ = services_.limits.admit(client_address(client_.socket()), cfg.server);
    protocol::StartupPacket packet;
    auto opening = co_await read_startup(packet);
    if (opening == Opening::kCancel) {
        co_await answer_cancel(packet);
        co_return false;
    }
    if (opening == Opening::kClosed) {
        co_return false;
    }
    if (!slot_->admitted()) {
        auto error = fatal_error("53300", "sorry, too many clients already");
        co_await fail(error, "too_many_clients");
        co_return false;
    }
    if (cfg.tls.client_mode == config::TlsClientMode::kRequire && !client_.encrypted()) {
        auto error = fatal_error("28000", "storegate accepts only TLS connections");
        co_await fail(error, "tls_required");
        co_return false;
    }
    request_ = parse_route_request(packet, cfg.routing, client_server_name(client_));
    probe_.logged_in(request_);
    if (!co_await negotiate_version(packet)) {
        co_return false;
    }
    if (!co_await authenticate(greeting)) {
        co_return false;
    }
    if (wants_console(request_, cfg)) {
        deadline.disarm();
        co_await run_console(services_, client_, client_in_, probe_, greeting);
        co_return false;
    }
    route_generation_ = services_.store_control.generation();
    auto refused = resolve_route(request_, cfg.routing, services_.routing, route_);
    if (refused && refused->code == "3D000" && request_.kind == TargetKind::kStore &&
        services_.watcher) {
        // A store created since the last snapshot: ask the registry once before refusing.
        auto* watcher = services_.watcher.get();
        std::string key = request_.key;
        auto lookup = [watcher, &key] { return watcher->lookup_store_now(key).has_value(); };
        bool found = co_await services_.run_blocking(lookup);
        if (found) {
            refused = resolve_route(request_, cfg.routing, services_.routing, route_);
        }
    }
    probe_.routed(request_, route_, refused ? &*refused : nullptr);
    if (refused) {
        protocol::ErrorFields error = *refused;
        co_await fail(error, error.code == "3D000" ? "unknown_store" : "no_route", greeting);
        co_return false;
    }
    deadline.disarm();
    // A paused store takes no new sessions; a session is not a transaction, so it is not
    // counted in flight once admitted.
    auto gate = co_await admit_store(services_.store_control, route_, activity_, route_generation_,
                                     cfg.retarget.pause_timeout, gate_error_);
    activity_.leave();
    if (gate == GateOutcome::kPausedTimeout) {
        services_.metrics.pause_event(PauseEvent::kWaitTimeout);
    }
    if (gate == GateOutcome::kPausedTimeout || gate == GateOutcome::kGone) {
        gate_error_.severity = "FATAL";
        co_await fail(gate_error_, "store_paused", greeting);
        co_return false;
    }
    if (!co_await attach(greeting)) {
        co_return false;
    }
    co_return co_await greet(greeting);
}

awaitable<void> Session::run() {
    auto self = shared_from_this();
    bool opened = co_await open();
    if (!opened) {
        co_return;
    }
    const auto& cfg = *runtime_->config;
    log::info("client connected {} source={}", log_fields(), route_.source);
    if (cfg.mode_for(route_.backend->db_key) == config::PoolMode::kTransaction) {
        use_transaction_scanners();
        co_await run_transaction_mode();
    } else {
        co_await relay();
        if (!store_moved_ && left_behind(services_.store_control, route_)) {
            services_.metrics.drain_event(DrainEvent::kDrained);
        }
    }
    co_await detach();
    log::info("client disconnected {}", log_fields());
}

awaitable<Session::Opening> Session::read_startup(protocol::StartupPacket& packet) {
    auto direct = co_await accept_direct_tls(client_, runtime_->client_tls,
                                             runtime_->config->tls.client_mode);
    if (direct == TlsOpening::kFailed) {
        client_.close();
        co_return Opening::kClosed;
    }
    for (;;) {
        size_t consumed = 0;
        auto status = protocol::decode_startup(client_in_.bytes(), packet, consumed);
        if (status == protocol::StartupStatus::kNeedMore) {
            auto space = client_in_.prepare(512);
            auto [ec, n] = co_await client_.read_some(asio::buffer(space.data(), space.size()));
            if (ec) {
                client_.close();
                co_return Opening::kClosed;
            }
            client_in_.commit(n);
            continue;
        }
        if (status != protocol::StartupStatus::kReady) {
            std::string message = status == protocol::StartupStatus::kBadVersion
                                      ? "unsupported frontend protocol: storegate supports 3.0"
                                  : status == protocol::StartupStatus::kMalformed
                                      ? "invalid startup packet"
                                      : "invalid length of startup packet";
            auto error = fatal_error("08P01", message);
            co_await fail(error, "bad_startup");
            co_return Opening::kClosed;
        }
        client_in_.consume(consumed);
        if (packet.kind == protocol::StartupKind::kCancel) {
            co_return Opening::kCancel;
        }
        if (packet.kind == protocol::StartupKind::kStartup) {
            co_return Opening::kStartup;
        }
        // SSLRequest: 'S' and a handshake when TLS is on. GSSENCRequest: 'N' (no GSSAPI).
        auto tls = runtime_->client_tls;
        if (packet.kind == protocol::StartupKind::kGssEnc) {
            tls = nullptr;
        }
        bool buffered = !client_in_.empty();
        auto answered =
            co_await answer_ssl_request(client_, tls, runtime_->config->tls.client_mode, buffered);
        if (answered == TlsOpening::kFailed && !buffered) {
            client_.close();  // the answer could not be sent, or the handshake failed
            co_return Opening::kClosed;
        }
        if (answered == TlsOpening::kFailed) {
            auto error = fatal_error("08P01", "unexpected data after encryption request");
            co_await fail(error, "bad_startup");
            co_return Opening::kClosed;
        }
    }
}

// A client asking for a protocol 3.x newer than 3.0, or for protocol options (_pq_.*), is told
// at once, as PostgreSQL does, that the session speaks 3.0 without them.
awaitable<bool> Session::negotiate_version(const protocol::StartupPacket& packet) {
    const int32_t minor = static_cast<int32_t>(packet.version & 0xffff);
    std::vector<std::string> unrecognized;
    for (const auto& [name, value] : packet.params) {
        if (name.starts_with("_pq_.")) {
            unrecognized.push_back(name);
        }
    }
    if (minor == 0 && unrecognized.empty()) {
        co_return true;
    }
    std::string out;
    // PostgreSQL sends the whole version number (3.0 = 196608) where the protocol docs speak
    // of the newest minor version; libpq reads it that way.
    protocol::append_negotiate_protocol_version(out, 3 << 16, unrecognized);
    auto [ec, n] = co_await client_.write(asio::buffer(out));
    if (ec) {
        client_.close();
        co_return false;
    }
    co_return true;
}

awaitable<void> Session::answer_cancel(const protocol::StartupPacket& packet) {
    auto target = services_.cancels.lookup(packet.cancel_pid, packet.cancel_secret);
    client_.close();
    if (target) {
        log::info("cancel forwarded session={} client={} backend_pid={}", id_, peer_, target->pid);
        co_await send_cancel(*target);
    } else {
        co_await forward_cancel(services_, packet.cancel_pid, packet.cancel_secret);
    }
}

awaitable<bool> Session::authenticate(std::string& greeting) {
    auto address = client_address(client_.socket());
    AuthOutcome outcome{false, false, "throttled"};
    if (services_.limits.throttled(address)) {
        // Too many recent failures from this address: a late failure, the password unread.
        asio::steady_timer pause(client_.executor(), ClientLimits::kPenalty);
        co_await pause.async_wait(nothrow);
    } else {
        outcome = co_await runtime_->auth->run(client_, client_in_, request_.role, greeting);
    }
    if (outcome.ok) {
        co_return true;
    }
    if (outcome.client_gone) {
        // Left before trying a password (psql asking for one, a health check): not a failure.
        client_.close();
        co_return false;
    }
    services_.limits.auth_failed(address);
    auto error =
        fatal_error("28P01", "password authentication failed for user \"" + request_.role + "\"");
    if (outcome.reason.starts_with("malformed")) {
        error.code = "08P01";
        error.message = "invalid authentication message";
    }
    co_await fail(error, outcome.reason);
    co_return false;
}

std::vector<std::pair<std::string, std::string>> Session::server_session_params() const {
    auto params = request_.session_params;
    if (route_.store && route_.backend->kind == registry::BackendKind::kShared) {
        params.emplace_back("storegate.store_id", route_.store->id.to_string());
    }
    return params;
}

// Limitation: in transaction pooling a login holds a server connection for a moment too (its
// parameters make the greeting, the client's startup settings are checked on it), so logins
// queue behind busy pools and fail with 53300 after pool.wait_timeout - matters for pools kept
// saturated and for clients that connect per request.
awaitable<bool> Session::attach(std::string& greeting) {
    const auto& cfg = *runtime_->config;
    pool_ = services_.pools.get(route_.backend->db_key, cfg);
    probe_.waiting();
    auto checkout = co_await pool_->acquire(worker_.index, route_.backend);
    probe_.acquired(checkout.conn.get());
    if (!checkout.conn) {
        co_await fail(checkout.error, "no_server", greeting);
        co_return false;
    }
    server_ = std::move(checkout.conn);
    std::string sql;
    if (cfg.mode_for(route_.backend->db_key) == config::PoolMode::kTransaction) {
        // The settings sync every transaction starts with, run now: the connection then holds
        // exactly this client's settings, so the greeting reports them (not those an earlier
        // client left), and a connection that already holds them costs no query at all.
        init_settings();
        sql = settings_sync_sql();
    } else if (auto params = server_session_params(); !params.empty()) {
        sql = set_statements(params);
    }
    if (!sql.empty()) {
        auto result = co_await server_->simple_query(sql);
        if (!result.ok || result.failed) {
            server_->settings_dirty = true;  // part of it may have been applied
            bool reusable = result.ok && server_->tx_status() == 'I';
            pool_->release(std::move(server_), reusable, worker_.index);
            auto error =
                result.failed ? result.error : fatal_error("08006", "server connection lost");
            error.severity = "FATAL";
            co_await fail(error, "bad_session_params", greeting);
            co_return false;
        }
    }
    cancel_key_ = services_.cancels.add(cancel_target_);
    cancel_target_->set({server_->endpoint(), server_->backend_pid(), server_->backend_secret()});
    co_return true;
}

awaitable<bool> Session::greet(std::string& greeting) {
    for (const auto& [name, value] : server_->params()) {
        protocol::append_parameter_status(greeting, name, value);
    }
    protocol::append_backend_key_data(greeting, cancel_key_.pid, cancel_key_.secret);
    protocol::append_ready_for_query(greeting, server_->tx_status());
    auto [ec, n] = co_await client_.write(asio::buffer(greeting));
    if (ec) {
        client_done_ = true;
        co_return false;
    }
    co_return true;
}

awaitable<void> Session::relay() {
    co_await (pump_client() || pump_server() ||
              watch_store_move(services_.store_control, route_,
                               runtime_->config->retarget.drain_timeout, store_moved_));
}

static bool answers_with_ready(char type) {
    return type == pf::kQuery || type == pf::kSync || type == pf::kFunctionCall;
}

awaitable<void> Session::pump_client() {
    for (;;) {
        auto space = client_in_.prepare(1);
        auto [ec, n] = co_await client_.read_some(asio::buffer(space.data(), space.size()));
        if (ec) {
            client_done_ = true;
            co_return;
        }
        client_in_.commit(n);
        size_t pos = 0;
        bool terminate = false;
        for (;;) {
            auto item = client_scan_.next(client_in_.bytes(), pos);
            if (item.kind == MessageScanner::Kind::kPass) {
                pending_ += item.messages > 0 && answers_with_ready(item.type) ? 1 : 0;
                pos += item.size;
                continue;
            }
            terminate = item.kind == MessageScanner::Kind::kWhole;
            client_garbled_ = item.kind == MessageScanner::Kind::kInvalid;
            if (item.kind == MessageScanner::Kind::kNeedMore) {
                client_in_.reserve(item.need);
            }
            break;
        }
        if (pos > 0) {
            probe_.client_bytes(pos);
            auto [wec, wn] = co_await server_->stream().write(asio::buffer(client_in_.data(), pos));
            if (wec) {
                server_lost_ = true;
                co_return;
            }
            client_in_.consume(pos);
        }
        if (terminate || client_garbled_) {
            client_done_ = terminate;
            co_return;
        }
    }
}

awaitable<void> Session::pump_server() {
    for (;;) {
        auto space = server_in_.prepare(1);
        auto [ec, n] =
            co_await server_->stream().read_some(asio::buffer(space.data(), space.size()));
        if (ec) {
            server_lost_ = ec != asio::error::operation_aborted;
            co_return;
        }
        server_in_.commit(n);
        size_t pos = 0;
        for (;;) {
            auto item = server_scan_.next(server_in_.bytes(), pos);
            if (item.kind == MessageScanner::Kind::kWhole) {
                if (item.type == pb::kReadyForQuery) {
                    char status = 'I';
                    protocol::parse_ready_for_query(item.body, status);
                    server_->set_tx_status(status);
                    pending_ = pending_ > 0 ? pending_ - 1 : 0;
                    probe_.ready_for_query(status, pending_ > 0);
                } else {
                    std::string_view name;
                    std::string_view value;
                    if (protocol::parse_parameter_status(item.body, name, value)) {
                        server_->set_param(name, value);
                    }
                }
            }
            if (item.kind == MessageScanner::Kind::kWhole ||
                item.kind == MessageScanner::Kind::kPass) {
                pos += item.size;
                continue;
            }
            if (item.kind == MessageScanner::Kind::kInvalid) {
                server_lost_ = true;
                co_return;
            }
            server_in_.reserve(item.need);
            break;
        }
        if (pos > 0) {
            probe_.server_bytes(pos);
            auto [ec, n] = co_await client_.write(asio::buffer(server_in_.data(), pos));
            if (ec) {
                client_done_ = true;
                co_return;
            }
            server_in_.consume(pos);
        }
    }
}

// Scanners for transaction pooling: every message that starts, ends or refers to something
// a transaction leaves behind is looked at; row data still passes in bulk.
void Session::use_transaction_scanners() {
    for (char t : {pf::kQuery, pf::kParse, pf::kBind, pf::kDescribe, pf::kClose, pf::kExecute}) {
        client_scan_.mark(t, false);
        client_scan_.want_whole(t, true);
    }
    for (char t : {pf::kSync, pf::kFlush, pf::kFunctionCall}) {
        client_scan_.mark(t, true);
    }
    for (char t :
         {'Z', 'S', 'E', '1', '2', '3', 'C', 'T', 'n', 't', 'I', 's', 'G', 'H', 'W', 'V', 'c'}) {
        server_scan_.want_whole(t, true);
    }
}

awaitable<void> Session::detach() {
    cancel_target_->clear();
    server_lost_ = server_lost_ || store_moved_;  // the relay was cut mid-stream: close it
    if (server_) {
        co_await return_server();
    }
    if (store_moved_) {
        services_.metrics.drain_event(DrainEvent::kClosed);
        auto error = store_moved_error(route_);
        co_await fail(error, "store_moved");
    } else if (client_garbled_) {
        auto error = fatal_error("08P01", "invalid message from client");
        co_await fail(error, "bad_message");
    } else if (server_lost_ && !client_done_) {
        auto error = fatal_error(
            "08006", "server connection for db_key \"" + route_.backend->db_key + "\" was lost");
        co_await fail(error, "server_lost");
    }
    client_.close();
}

// Hands the server connection back clean: an abandoned transaction rolled back (as separate
// statements, so a failed ROLLBACK is not masked), session state reset where it may remain,
// or the connection closed when its state cannot be known (a query still running, a message
// half sent).
awaitable<void> Session::return_server() {
    bool idle = transaction_mode_ ? queue_.empty() && !unsynced_ : pending_ == 0;
    bool reusable = !server_lost_ && idle && server_scan_.at_boundary() &&
                    client_scan_.at_boundary() && server_in_.empty();
    if (reusable && server_->tx_status() != 'I') {
        auto result = co_await server_->simple_query("ROLLBACK");
        reusable = result.ok && server_->tx_status() == 'I';
    }
    const auto& reset = runtime_->config->pool.reset_query;
    bool needs_reset = !transaction_mode_ || pinned_ != sql::Pin::kNone;
    if (reusable && needs_reset && !reset.empty()) {
        auto result = co_await server_->simple_query(reset);
        reusable = result.ok && !result.failed && server_->tx_status() == 'I';
        server_->prepared().clear();
        server_->applied_settings().clear();
    }
    return_relay_buffer();
    pool_->release(std::move(server_), reusable, worker_.index);
    activity_.leave();
    probe_.released();
}

}  // namespace storegate::proxy
