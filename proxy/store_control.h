// Live retargeting on the data path: which stores have a transaction in flight on this
// instance, a generation counter that moves with every routing-table change (so a session
// re-reads its store's route only when something changed), the pause gate a transaction or
// session passes before it takes a server connection, and the drain of session-mode clients
// whose store moved to another backend. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/uuid.h"
#include "proxy/net.h"
#include "proxy/router.h"
#include "registry/routing_table.h"

namespace storegate::proxy {

// A transaction waiting at the gate of a paused store, woken by the next table change instead
// of looking again on a timer. Belongs to the waiting coroutine's executor; StoreControl only
// holds it weakly and wakes it through a handler posted there.
struct PauseWaiter {
    explicit PauseWaiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool woken = false;
};

class StoreControl {
  public:
    // Registers a change listener on `routing`: construct before the table is first filled.
    explicit StoreControl(registry::RoutingTable& routing);

    registry::RoutingTable& routing() const { return routing_; }
    // Moves after every table change; a session whose last look is older re-reads its route.
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    void enter(const Uuid& store);
    void leave(const Uuid& store);
    int in_flight(const Uuid& store) const;
    // The quiesce reporter's check: the store's in-flight count, read once the generation has
    // moved for the first `changes` table changes (RoutingTable::changes()). A transaction
    // counted after this read re-reads its route, so it sees each of those changes, a pause
    // among them. While the count is above zero the store is watched: the leave() that ends
    // its last transaction moves drains() and wakes wait_change(), so a paused store can be
    // reported the moment it quiesces. Nullopt when the generation has not moved within
    // `timeout` (the listener runs right after each change, so it does).
    std::optional<int> in_flight_after(const Uuid& store, uint64_t changes,
                                       std::chrono::milliseconds timeout);
    // Ends every watch in_flight_after() started.
    void unwatch_drains();
    uint64_t drains() const;

    // Blocks until the table changes, a watched store drains, or `timeout` passes (the quiesce
    // reporter's wake-up).
    void wait_change(uint64_t seen_generation, uint64_t seen_drains,
                     std::chrono::milliseconds timeout);
    // Wakes wait_change() callers without a table change (shutdown).
    void wake();

    // Registers `waiter` for a wake-up at the next table change, unless the generation has
    // already moved past `seen_generation` (then false: look at the table again at once).
    // A change wakes every registered waiter and unregisters it.
    bool add_waiter(const std::shared_ptr<PauseWaiter>& waiter, uint64_t seen_generation);
    void remove_waiter(const PauseWaiter* waiter);

  private:
    registry::RoutingTable& routing_;
    std::atomic<uint64_t> generation_{1};
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::unordered_map<Uuid, int, UuidHash> in_flight_;
    // Under mutex_: the table changes the generation has moved for, the watched stores and
    // how many of them drained.
    uint64_t listened_changes_ = 0;
    std::unordered_set<Uuid, UuidHash> drain_watch_;
    uint64_t drains_ = 0;
    struct WaiterEntry {
        asio::any_io_executor executor;
        std::weak_ptr<PauseWaiter> waiter;
    };
    std::unordered_map<const PauseWaiter*, WaiterEntry> waiters_;
};

// One session's share of StoreControl's in-flight count: at most one store at a time, left
// on destruction so a session that ends abruptly never keeps a store from quiescing.
class StoreActivity {
  public:
    explicit StoreActivity(StoreControl& control) : control_(control) {}
    ~StoreActivity() { leave(); }
    StoreActivity(const StoreActivity&) = delete;
    StoreActivity& operator=(const StoreActivity&) = delete;

    void enter(const Uuid& store);
    void leave();
    bool active() const { return store_.has_value(); }

  private:
    StoreControl& control_;
    std::optional<Uuid> store_;
};

enum class GateOutcome { kOpen, kMoved, kPausedTimeout, kGone };

// Admits a new transaction (or session) of `route`'s store: re-reads the route when the table
// changed since `seen_generation` and waits, up to `pause_timeout`, while the store is paused.
// On kOpen/kMoved the activity holds the store (counted in flight); kMoved means the backend
// changed. On kPausedTimeout/kGone it holds nothing and `error` says what to send.
// Tenant routes (no store) always pass. Arguments: references to the caller's named objects.
awaitable<GateOutcome> admit_store(StoreControl& control, RouteDecision& route,
                                   StoreActivity& activity, uint64_t& seen_generation,
                                   const std::chrono::milliseconds& pause_timeout,
                                   protocol::ErrorFields& error);

// Session mode: returns once `route`'s store has been routed to another db_key for longer
// than `drain_timeout` (setting `moved`), or when cancelled. Runs beside the relay pumps.
awaitable<void> watch_store_move(StoreControl& control, const RouteDecision& route,
                                 const std::chrono::milliseconds& drain_timeout, bool& moved);

// True when `route`'s store now lives on another db_key than the backend `route` holds: a
// session-mode session that ends so was left behind by a move.
bool left_behind(const StoreControl& control, const RouteDecision& route);

// The FATAL a drained session-mode client receives (57P01, as for an administrator shutdown).
protocol::ErrorFields store_moved_error(const RouteDecision& route);

}  // namespace storegate::proxy
