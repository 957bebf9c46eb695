#include "proxy/store_control.h"

#include "common/log.h"

namespace storegate::proxy {

namespace {

// A waiting transaction is woken by the table change that resumes its store; it also looks
// again this often, a fallback that costs nothing while pauses are as short as a move's.
constexpr std::chrono::milliseconds kPauseRecheck{250};
constexpr std::chrono::milliseconds kDrainPoll{100};

awaitable<bool> sleep_for(std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    auto [ec] = co_await timer.async_wait(nothrow);
    co_return !ec;
}

// Unregisters a pause waiter however its coroutine ends, destruction on shutdown included.
struct WaiterGuard {
    StoreControl& control;
    const PauseWaiter* waiter;
    ~WaiterGuard() { control.remove_waiter(waiter); }
};

// Waits until the next table change, the fallback recheck or `deadline`; false when the wait
// was cancelled from outside (the session is ending).
awaitable<bool> wait_resume(StoreControl& control, const std::shared_ptr<PauseWaiter>& waiter,
                            const uint64_t& seen_generation,
                            const std::chrono::steady_clock::time_point& deadline) {
    if (!control.add_waiter(waiter, seen_generation)) {
        co_return true;  // the table changed meanwhile: look again at once
    }
    waiter->woken = false;
    waiter->timer.expires_at(std::min(deadline, std::chrono::steady_clock::now() + kPauseRecheck));
    auto [ec] = co_await waiter->timer.async_wait(nothrow);
    co_return !ec || waiter->woken;
}

// Re-reads the store's route when the table changed; false (with `error`) when the store or
// its route is gone. `moved` is set when the store now lives on another db_key.
bool refresh_route(StoreControl& control, RouteDecision& route, uint64_t& seen_generation,
                   bool& moved, protocol::ErrorFields& error) {
    uint64_t now = control.generation();
    if (now == seen_generation) {
        return true;
    }
    seen_generation = now;
    RouteDecision next;
    auto refused = resolve_store(route.store->id.to_string(), control.routing(), next);
    if (refused) {
        error = *refused;
        return false;
    }
    moved = moved || next.backend->db_key != route.backend->db_key;
    route.store = std::move(next.store);
    route.backend = std::move(next.backend);
    return true;
}

}  // namespace

StoreControl::StoreControl(registry::RoutingTable& routing)
    : routing_(routing), listened_changes_(routing.changes()) {
    routing_.on_change([this] {
        // Read before the lock: the count covers this change, and the generation moves after
        // the change became visible, which is what in_flight_after() relies on.
        uint64_t changes = routing_.changes();
        decltype(waiters_) waiters;
        {
            std::lock_guard lock(mutex_);
            generation_.fetch_add(1, std::memory_order_acq_rel);
            listened_changes_ = std::max(listened_changes_, changes);
            waiters.swap(waiters_);
        }
        changed_.notify_all();
        // The timer belongs to the waiter's executor: it is woken there, and only there may
        // the waiter be touched (or, by a last reference, destroyed).
        for (auto& [_, entry] : waiters) {
            asio::post(entry.executor, [weak = std::move(entry.waiter)] {
                if (auto waiter = weak.lock()) {
                    waiter->woken = true;
                    waiter->timer.cancel();
                }
            });
        }
    });
}

void StoreControl::enter(const Uuid& store) {
    std::lock_guard lock(mutex_);
    ++in_flight_[store];
}

void StoreControl::leave(const Uuid& store) {
    bool drained = false;
    {
        std::lock_guard lock(mutex_);
        auto it = in_flight_.find(store);
        if (it != in_flight_.end() && --it->second <= 0) {
            in_flight_.erase(it);
            drained = !drain_watch_.empty() && drain_watch_.contains(store);
            drains_ += drained ? 1 : 0;
        }
    }
    if (drained) {
        changed_.notify_all();
    }
}

int StoreControl::in_flight(const Uuid& store) const {
    std::lock_guard lock(mutex_);
    auto it = in_flight_.find(store);
    return it == in_flight_.end() ? 0 : it->second;
}

std::optional<int> StoreControl::in_flight_after(const Uuid& store, uint64_t changes,
                                                 std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return listened_changes_ >= changes; })) {
        return std::nullopt;
    }
    auto it = in_flight_.find(store);
    if (it == in_flight_.end()) {
        return 0;
    }
    drain_watch_.insert(store);
    return it->second;
}

void StoreControl::unwatch_drains() {
    std::lock_guard lock(mutex_);
    drain_watch_.clear();
}

uint64_t StoreControl::drains() const {
    std::lock_guard lock(mutex_);
    return drains_;
}

void StoreControl::wait_change(uint64_t seen_generation, uint64_t seen_drains,
                               std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return generation() != seen_generation || drains_ != seen_drains; });
}

void StoreControl::wake() {
    changed_.notify_all();
}

bool StoreControl::add_waiter(const std::shared_ptr<PauseWaiter>& waiter,
                              uint64_t seen_generation) {
    std::lock_guard lock(mutex_);
    if (generation() != seen_generation) {
        return false;
    }
    waiters_.emplace(waiter.get(), WaiterEntry{waiter->timer.get_executor(), waiter});
    return true;
}

void StoreControl::remove_waiter(const PauseWaiter* waiter) {
    std::lock_guard lock(mutex_);
    waiters_.erase(waiter);
}

void StoreActivity::enter(const Uuid& store) {
    if (store_ && *store_ == store) {
        return;
    }
    leave();
    control_.enter(store);
    store_ = store;
}

void StoreActivity::leave() {
    if (store_) {
        control_.leave(*store_);
        store_.reset();
    }
}

// The count goes up before the paused flag is read: the quiesce reporter reads them in the
// opposite order, so either this transaction sees the pause or the reporter sees it in flight.
// Limitation: a transaction counts as in flight from this gate on, including while it then
// queues for a server connection, so a pause waits for transactions that have not started -
// matters for pauses and moves while the store's pool is saturated.
awaitable<GateOutcome> admit_store(StoreControl& control, RouteDecision& route,
                                   StoreActivity& activity, uint64_t& seen_generation,
                                   const std::chrono::milliseconds& pause_timeout,
                                   protocol::ErrorFields& error) {
    if (!route.store) {
        co_return GateOutcome::kOpen;
    }
    auto deadline = std::chrono::steady_clock::now() + pause_timeout;
    bool moved = false;
    std::shared_ptr<PauseWaiter> waiter;
    for (;;) {
        activity.enter(route.store->id);
        if (!refresh_route(control, route, seen_generation, moved, error)) {
            activity.leave();
            co_return GateOutcome::kGone;
        }
        if (!route.store->paused) {
            co_return moved ? GateOutcome::kMoved : GateOutcome::kOpen;
        }
        activity.leave();
        if (!waiter) {
            auto ex = co_await asio::this_coro::executor;
            waiter = std::make_shared<PauseWaiter>(ex);
        }
        WaiterGuard guard{control, waiter.get()};
        bool waited = std::chrono::steady_clock::now() < deadline;
        if (waited) {
            waited = co_await wait_resume(control, waiter, seen_generation, deadline);
        }
        if (!waited) {
            error = {"ERROR", "57014",
                     "store \"" + route.store->slug + "\" is paused and was not resumed within " +
                         std::to_string(pause_timeout.count()) + " ms",
                     "", "Try again once the store is resumed."};
            co_return GateOutcome::kPausedTimeout;
        }
    }
}

awaitable<void> watch_store_move(StoreControl& control, const RouteDecision& route,
                                 const std::chrono::milliseconds& drain_timeout, bool& moved) {
    if (!route.store || !route.backend) {
        asio::steady_timer forever(co_await asio::this_coro::executor,
                                   asio::steady_timer::time_point::max());
        co_await forever.async_wait(nothrow);
        co_return;
    }
    std::optional<std::chrono::steady_clock::time_point> moved_since;
    uint64_t seen = control.generation();
    for (;;) {
        if (!co_await sleep_for(kDrainPoll)) {
            co_return;  // the relay ended first
        }
        if (!moved_since && control.generation() == seen) {
            continue;  // nothing changed: no table lookup
        }
        seen = control.generation();
        auto now = control.routing().find_store(route.store->id.to_string());
        bool elsewhere = now && now->store->db_key != route.backend->db_key;
        if (!elsewhere) {
            moved_since.reset();
            continue;
        }
        auto t = std::chrono::steady_clock::now();
        if (!moved_since) {
            moved_since = t;
            log::info(
                "store moved; draining session-mode client store={} old_db_key={} "
                "new_db_key={}",
                route.store->id.to_string(), route.backend->db_key, now->store->db_key);
        }
        if (t - *moved_since >= drain_timeout) {
            moved = true;
            co_return;
        }
    }
}

bool left_behind(const StoreControl& control, const RouteDecision& route) {
    if (!route.store || !route.backend) {
        return false;
    }
    auto now = control.routing().find_store(route.store->id.to_string());
    return now && now->store->db_key != route.backend->db_key;
}

protocol::ErrorFields store_moved_error(const RouteDecision& route) {
    std::string store = route.store ? route.store->slug : std::string("?");
    return {"FATAL", "57P01",
            "terminating connection because store \"" + store +
                "\" moved to another database; reconnect to reach it there",
            "", ""};
}

}  // namespace storegate::proxy
