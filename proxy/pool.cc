#include "proxy/pool.h"

#include <algorithm>

#include "common/log.h"

namespace storegate::proxy {

static constexpr auto kProbeAfterIdle = std::chrono::milliseconds(1000);
// A connection given back goes to a client waiting on the same thread before one waiting
// longer on another thread, unless that one has waited this long: moving a connection between
// threads costs system calls (the socket leaves one epoll set for another) and a cross-thread
// wake-up, while the order of waiters matters only for fairness.
static constexpr auto kPreferSameThreadFor = std::chrono::milliseconds(2);

struct Pool::Waiter {
    Waiter(asio::any_io_executor ex, int worker_index)
        : executor(ex), timer(ex), worker(worker_index), since(Clock::now()) {}
    asio::any_io_executor executor;
    asio::steady_timer timer;
    int worker;
    Clock::time_point since;
    Grant grant = Grant::kNone;
    std::unique_ptr<ServerConn> conn;
};

Pool::Pool(std::string db_key, int workers, PoolSettings settings, PasswordSource passwords)
    : db_key_(std::move(db_key)),
      passwords_(std::move(passwords)),
      settings_(settings),
      idle_(static_cast<size_t>(std::max(workers, 1))),
      last_used_(Clock::now()) {}

bool Pool::expired(const ServerConn& conn, Clock::time_point now) const {
    return now - conn.created() >= settings_.lifetime;
}

std::unique_ptr<ServerConn> Pool::take_idle_locked(
    int worker, uint64_t generation, std::vector<std::unique_ptr<ServerConn>>& stale) {
    auto now = Clock::now();
    size_t n = idle_.size();
    for (size_t i = 0; i < n; ++i) {
        auto& list = idle_[(static_cast<size_t>(worker) + i) % n];
        while (!list.empty()) {
            auto conn = std::move(list.back());
            list.pop_back();
            --stats_.idle;
            if (conn->backend().generation != generation || expired(*conn, now)) {
                --stats_.total;
                stale.push_back(std::move(conn));
                continue;
            }
            return conn;
        }
    }
    return nullptr;
}

awaitable<Checkout> Pool::acquire(int worker, std::shared_ptr<const registry::Backend> backend) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        std::unique_ptr<ServerConn> conn;
        std::vector<std::unique_ptr<ServerConn>> stale;
        std::shared_ptr<Waiter> waiter;
        bool slot = false;
        {
            std::lock_guard lock(mutex_);
            last_used_ = Clock::now();
            generation_ = std::max(generation_, backend->generation);
            conn = take_idle_locked(worker, backend->generation, stale);
            if (!conn && stats_.total < settings_.size) {
                ++stats_.total;
                slot = true;
            } else if (!conn) {
                waiter = std::make_shared<Waiter>(ex, worker);
                waiters_.push_back(waiter);
                ++stats_.waits;
            }
        }
        stale.clear();
        if (conn) {
            conn->rebind(ex);
            // A connection back in the pool moments ago is alive as far as anyone can tell; the
            // probe (a system call) is kept for those idle long enough to have been cut off.
            bool fresh = Clock::now() - conn->last_used() < kProbeAfterIdle;
            if (fresh || conn->looks_alive()) {
                Checkout out;
                out.conn = std::move(conn);
                co_return out;
            }
            log::info("server connection dropped db_key={} server={} reason=closed_while_idle",
                      db_key_, conn->id());
            release(std::move(conn), false, worker);
            continue;
        }
        if (slot) {
            co_return co_await open(backend);
        }
        co_return co_await wait(waiter, backend);
    }
}

awaitable<Checkout> Pool::open(std::shared_ptr<const registry::Backend> backend) {
    auto ex = co_await asio::this_coro::executor;
    Checkout out;
    std::string password;
    std::string error;
    if (!passwords_(*backend, password, error)) {
        // Which reference failed, and why, is for the operator's log, not for clients.
        if (log::allow("pool.secret." + db_key_)) {
            log::warn("cannot resolve the backend password db_key={} error=\"{}\"", db_key_, error);
        }
        out.error = {"FATAL", "08006", "cannot resolve the password of db_key \"" + db_key_ + "\"",
                     "", "See storegate's log."};
    } else {
        auto conn = std::make_unique<ServerConn>(ex, backend, std::move(password));
        ConnectSettings connect;
        {
            std::lock_guard lock(mutex_);
            connect = settings_.connect;
        }
        if (co_await conn->connect(connect, out.error)) {
            out.conn = std::move(conn);
        }
    }
    std::lock_guard lock(mutex_);
    if (out.conn) {
        ++stats_.connects;
    } else {
        ++stats_.connect_failures;
        --stats_.total;
        give_slot_to_waiter_locked();
    }
    co_return out;
}

awaitable<Checkout> Pool::wait(std::shared_ptr<Waiter> waiter,
                               std::shared_ptr<const registry::Backend> backend) {
    std::chrono::milliseconds timeout;
    {
        std::lock_guard lock(mutex_);
        timeout = settings_.wait_timeout;
    }
    waiter->timer.expires_after(timeout);
    co_await waiter->timer.async_wait(nothrow);
    Grant grant;
    std::unique_ptr<ServerConn> conn;
    {
        std::lock_guard lock(mutex_);
        grant = waiter->grant;
        conn = std::move(waiter->conn);
        if (grant == Grant::kNone) {
            auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
            if (it != waiters_.end()) {
                waiters_.erase(it);
            }
            ++stats_.timeouts;
        }
    }
    if (grant == Grant::kConn) {
        conn->rebind(waiter->executor);
        Checkout out;
        out.conn = std::move(conn);
        co_return out;
    }
    if (grant == Grant::kSlot) {
        co_return co_await open(backend);
    }
    Checkout timed_out;
    timed_out.error.severity = "FATAL";
    timed_out.error.code = "53300";
    timed_out.error.message = "no server connection for db_key \"" + db_key_ +
                              "\" became free within " + std::to_string(timeout.count()) + " ms";
    timed_out.error.hint = "Raise pool.size or pool.wait_timeout_ms, or shorten transactions.";
    co_return timed_out;
}

void Pool::give_slot_to_waiter_locked() {
    if (waiters_.empty()) {
        return;
    }
    auto w = waiters_.front();
    waiters_.pop_front();
    ++stats_.total;
    w->grant = Grant::kSlot;
    asio::post(w->executor, [w] { w->timer.cancel(); });
}

std::shared_ptr<Pool::Waiter> Pool::take_waiter_locked(int worker, Clock::time_point now) {
    auto chosen = waiters_.begin();
    if (now - waiters_.front()->since < kPreferSameThreadFor) {
        auto local = std::find_if(waiters_.begin(), waiters_.end(),
                                  [worker](const auto& w) { return w->worker == worker; });
        if (local != waiters_.end()) {
            chosen = local;
        }
    }
    auto w = *chosen;
    waiters_.erase(chosen);
    return w;
}

void Pool::release(std::unique_ptr<ServerConn> conn, bool reusable, int worker) {
    std::unique_lock lock(mutex_);
    last_used_ = Clock::now();
    if (!reusable || expired(*conn, last_used_) || conn->backend().generation < generation_) {
        --stats_.total;
        give_slot_to_waiter_locked();
        lock.unlock();
        conn.reset();
        return;
    }
    conn->touch();
    if (!waiters_.empty()) {
        auto w = take_waiter_locked(worker, last_used_);
        w->grant = Grant::kConn;
        w->conn = std::move(conn);
        asio::post(w->executor, [w] { w->timer.cancel(); });
        return;
    }
    size_t slot = static_cast<size_t>(worker) % idle_.size();
    idle_[slot].push_back(std::move(conn));
    ++stats_.idle;
}

void Pool::sweep() {
    std::vector<std::unique_ptr<ServerConn>> stale;
    {
        std::lock_guard lock(mutex_);
        auto now = Clock::now();
        for (auto& list : idle_) {
            auto keep = std::stable_partition(list.begin(), list.end(), [&](const auto& c) {
                return now - c->last_used() < settings_.idle_timeout && !expired(*c, now);
            });
            for (auto it = keep; it != list.end(); ++it) {
                stale.push_back(std::move(*it));
            }
            list.erase(keep, list.end());
        }
        stats_.idle -= static_cast<int>(stale.size());
        stats_.total -= static_cast<int>(stale.size());
    }
}

void Pool::close_idle() {
    std::vector<std::unique_ptr<ServerConn>> stale;
    std::lock_guard lock(mutex_);
    for (auto& list : idle_) {
        for (auto& c : list) {
            stale.push_back(std::move(c));
        }
        list.clear();
    }
    stats_.idle -= static_cast<int>(stale.size());
    stats_.total -= static_cast<int>(stale.size());
}

void Pool::shut_down() {
    close_idle();
    std::deque<std::shared_ptr<Waiter>> waiters;
    std::lock_guard lock(mutex_);
    waiters.swap(waiters_);
}

void Pool::update_settings(const PoolSettings& settings) {
    std::lock_guard lock(mutex_);
    settings_ = settings;
}

PoolStats Pool::stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s = stats_;
    s.waiting = static_cast<int>(waiters_.size());
    s.active = s.total - s.idle;
    return s;
}

std::vector<Pool::IdleServer> Pool::idle_servers() const {
    std::lock_guard lock(mutex_);
    std::vector<IdleServer> out;
    for (const auto& list : idle_) {
        for (const auto& conn : list) {
            out.push_back({conn->id(), conn->backend_pid(), conn->created(), conn->last_used()});
        }
    }
    return out;
}

Clock::time_point Pool::last_used() const {
    std::lock_guard lock(mutex_);
    return last_used_;
}

}  // namespace storegate::proxy
