#include "proxy/session_probe.h"

#include "proxy/server_conn.h"

namespace storegate::proxy {

namespace {

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// The routing decision's result label: ok, or why the client was refused.
std::string_view route_result(const protocol::ErrorFields* refused) {
    if (refused == nullptr) {
        return "ok";
    }
    return refused->code == protocol::sqlstate::kInvalidCatalogName ? "unknown" : "rejected";
}

}  // namespace

SessionProbe::SessionProbe(SessionRegistry& sessions, Metrics& metrics, uint64_t id, int worker,
                           std::string client)
    : sessions_(sessions), metrics_(metrics), entry_(sessions.add(id, worker, std::move(client))) {
    metrics_.client_connected();
}

SessionProbe::~SessionProbe() {
    flush_bytes();
    unbind_store();
    sessions_.remove(entry_);
}

void SessionProbe::logged_in(const RouteRequest& request) {
    std::string application;
    for (const auto& [name, value] : request.session_params) {
        if (name == "application_name") {
            application = value;
        }
    }
    entry_->set_login(request.role, request.database, std::move(application));
}

void SessionProbe::routed(const RouteRequest& request, const RouteDecision& decision,
                          const protocol::ErrorFields* refused) {
    metrics_.routed(refused ? request.source : decision.source, route_result(refused));
    if (refused == nullptr) {
        bind_route(decision);
    }
}

void SessionProbe::bind_route(const RouteDecision& decision) {
    std::string db_key = decision.backend ? decision.backend->db_key : std::string();
    if (!db_ || db_->db_key != db_key) {
        flush_bytes();
        db_ = db_key.empty() ? nullptr : metrics_.db_key(db_key);
    }
    unbind_store();
    if (decision.store) {
        store_ = metrics_.store(decision.store->slug);
        store_->clients.fetch_add(1, std::memory_order_relaxed);
    }
    entry_->set_route(decision.store ? decision.store->id.to_string() : std::string(),
                      decision.store ? decision.store->slug : std::string(),
                      decision.tenant ? decision.tenant->id.to_string() : std::string(),
                      std::move(db_key), decision.source);
}

void SessionProbe::unbind_store() {
    if (store_) {
        store_->clients.fetch_sub(1, std::memory_order_relaxed);
        store_.reset();
    }
}

void SessionProbe::refused(std::string_view reason, std::string_view sqlstate) {
    metrics_.refused(reason, sqlstate);
}

void SessionProbe::waiting() {
    wait_start_ = Clock::now();
    entry_->set_state(ClientState::kWaiting);
}

void SessionProbe::acquired(const ServerConn* conn) {
    if (db_) {
        db_->pool_wait_seconds->Observe(seconds(Clock::now() - wait_start_));
    }
    if (conn == nullptr) {
        entry_->set_state(ClientState::kIdle);
        return;
    }
    entry_->set_server(conn->id(), conn->backend_pid(), conn->backend().host, conn->backend().port,
                       conn->created());
}

void SessionProbe::released(ClientState next) {
    flush_bytes();
    entry_->clear_server(next);
}

void SessionProbe::start_query() {
    in_query_ = true;
    query_start_ = Clock::now();
    if (!in_transaction_) {
        in_transaction_ = true;
        transaction_start_ = query_start_;
    }
}

void SessionProbe::ready_for_query(char status, bool more_pending) {
    auto now = Clock::now();
    if (in_query_ && db_) {
        db_->queries->Increment();
        db_->query_seconds->Observe(seconds(now - query_start_));
    }
    if (in_query_ && store_) {
        store_->queries.fetch_add(1, std::memory_order_relaxed);
    }
    in_query_ = false;
    if (status == 'I' && in_transaction_) {
        in_transaction_ = false;
        auto took = now - transaction_start_;
        if (db_) {
            db_->transactions->Increment();
            db_->transaction_seconds->Observe(seconds(took));
        }
        if (store_) {
            store_->transactions.fetch_add(1, std::memory_order_relaxed);
            store_->transaction_micros.fetch_add(
                static_cast<uint64_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(took).count()),
                std::memory_order_relaxed);
        }
        flush_bytes();
    }
    if (more_pending) {
        start_query();
    }
}

void SessionProbe::flush_bytes() {
    if (db_ && bytes_in_ > 0) {
        db_->bytes_received->Increment(static_cast<double>(bytes_in_));
    }
    if (db_ && bytes_out_ > 0) {
        db_->bytes_sent->Increment(static_cast<double>(bytes_out_));
    }
    bytes_in_ = 0;
    bytes_out_ = 0;
}

}  // namespace storegate::proxy
