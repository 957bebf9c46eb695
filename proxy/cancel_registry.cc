#include "proxy/cancel_registry.h"

#include <openssl/rand.h>

#include "protocol/frontend.h"

namespace storegate::proxy {

void CancelTarget::set(const Backend& backend) {
    std::lock_guard lock(mutex_);
    backend_ = backend;
}

void CancelTarget::clear() {
    std::lock_guard lock(mutex_);
    backend_.reset();
}

std::optional<CancelTarget::Backend> CancelTarget::get() const {
    std::lock_guard lock(mutex_);
    return backend_;
}

CancelRegistry::Key CancelRegistry::add(std::shared_ptr<CancelTarget> target) {
    int32_t secret = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&secret), sizeof(secret));
    std::lock_guard lock(mutex_);
    int32_t pid = 0;
    do {
        // 23 bits of sequence under the instance tag; the pid stays positive like a real one.
        uint32_t seq = next_++ & 0x7fffff;
        pid = static_cast<int32_t>((static_cast<uint32_t>(instance_tag_ & 0x7f) << 23) | seq);
    } while (pid == 0 || entries_.contains(pid));
    entries_[pid] = Entry{secret, std::move(target)};
    return Key{pid, secret};
}

void CancelRegistry::remove(int32_t pid) {
    std::lock_guard lock(mutex_);
    entries_.erase(pid);
}

// Limitation: between this lookup and the cancel reaching the backend, the client's
// transaction may end and its server connection serve another client, which the cancel would
// then hit - the same window PostgreSQL's own cancel protocol has; it matters only for cancels
// sent as a transaction ends.
std::optional<CancelTarget::Backend> CancelRegistry::lookup(int32_t pid, int32_t secret) const {
    std::shared_ptr<CancelTarget> target;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(pid);
        if (it == entries_.end() || it->second.secret != secret) {
            return std::nullopt;
        }
        target = it->second.target;
    }
    return target->get();
}

awaitable<void> send_cancel(CancelTarget::Backend backend) {
    auto ex = co_await asio::this_coro::executor;
    Socket socket(ex);
    auto [ec] = co_await socket.async_connect(backend.endpoint, nothrow);
    if (ec) {
        co_return;
    }
    std::string out;
    protocol::append_cancel_request(out, backend.pid, backend.secret);
    co_await asio::async_write(socket, asio::buffer(out), nothrow);
    // The server closes the connection once it has read the request.
    char byte;
    co_await socket.async_read_some(asio::buffer(&byte, 1), nothrow);
}

}  // namespace storegate::proxy
