// What one session reports about itself: its entry in the SessionRegistry (state changes) and
// its metrics (transactions, queries, bytes, pool waits, refusals). The session calls it at
// state changes and at query/transaction boundaries; the per-boundary calls are a few
// arithmetic operations and increments through handles resolved when the route is bound.
// Bytes are summed locally and flushed at each transaction end and at close.
// Owned by the session; used only on its thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "protocol/errors.h"
#include "proxy/metrics.h"
#include "proxy/router.h"
#include "proxy/session_registry.h"

namespace storegate::proxy {

class ServerConn;

class SessionProbe {
  public:
    SessionProbe(SessionRegistry& sessions, Metrics& metrics, uint64_t id, int worker,
                 std::string client);
    ~SessionProbe();
    SessionProbe(const SessionProbe&) = delete;
    SessionProbe& operator=(const SessionProbe&) = delete;

    // After the startup packet: who logs in to what.
    void logged_in(const RouteRequest& request);
    // The outcome of routing; `refused` is the error sent to the client, if any.
    void routed(const RouteRequest& request, const RouteDecision& decision,
                const protocol::ErrorFields* refused);
    // Binds the series of a route (a store may change per transaction in transaction pooling).
    void bind_route(const RouteDecision& decision);
    // A session that ends with an error (Session::fail).
    void refused(std::string_view reason, std::string_view sqlstate);
    // Around a pool checkout: waiting() before, acquired() after (null when it failed).
    void waiting();
    void acquired(const ServerConn* conn);
    // The server connection went back to the pool; the client stays as `next`.
    void released(ClientState next = ClientState::kIdle);
    void console() { entry_->set_state(ClientState::kConsole); }

    // Bytes forwarded from the client; the first after a ReadyForQuery starts a query.
    void client_bytes(size_t n) {
        bytes_in_ += n;
        if (!in_query_) {
            start_query();
        }
    }
    void server_bytes(size_t n) { bytes_out_ += n; }
    // A ReadyForQuery from the server: a query ended, and with status 'I' its transaction.
    // `more_pending`: the client has further requests in flight (pipelining).
    void ready_for_query(char status, bool more_pending);

    void pin(PinReason reason) { entry_->pin(reason); }
    void unpin(PinReason reason) { entry_->unpin(reason); }
    void unpin_all() { entry_->unpin_all(); }

    SessionEntry& entry() { return *entry_; }
    Metrics& metrics() { return metrics_; }

  private:
    void start_query();
    void flush_bytes();
    void unbind_store();

    SessionRegistry& sessions_;
    Metrics& metrics_;
    std::shared_ptr<SessionEntry> entry_;
    std::shared_ptr<const DbKeyMetrics> db_;
    std::shared_ptr<StoreCounters> store_;
    uint64_t bytes_in_ = 0;
    uint64_t bytes_out_ = 0;
    bool in_query_ = false;
    bool in_transaction_ = false;
    Clock::time_point query_start_;
    Clock::time_point transaction_start_;
    Clock::time_point wait_start_;
};

}  // namespace storegate::proxy
