#include "proxy/client_limits.h"

namespace storegate::proxy {

// Bounds the failure table so a scan from many addresses cannot grow it without end.
static constexpr size_t kMaxTrackedAddresses = 65536;

std::string client_address(const Socket& socket) {
    error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) {
        return "unknown";
    }
    auto family = endpoint.data()->sa_family;
    if (family == AF_INET) {
        asio::ip::tcp::endpoint tcp;
        std::memcpy(tcp.data(), endpoint.data(), sizeof(sockaddr_in));
        return tcp.address().to_string();
    }
    if (family == AF_INET6) {
        asio::ip::tcp::endpoint tcp;
        std::memcpy(tcp.data(), endpoint.data(), sizeof(sockaddr_in6));
        return tcp.address().to_string();
    }
    return "unix";
}

ClientLimits::Slot::~Slot() {
    if (admitted_ && owner_ != nullptr) {
        owner_->release(address_);
    }
}

std::unique_ptr<ClientLimits::Slot> ClientLimits::admit(const std::string& address,
                                                        const config::ServerConfig& server) {
    std::lock_guard lock(mutex_);
    bool over_total = server.max_client_conn > 0 && open_ >= server.max_client_conn;
    auto it = per_address_.find(address);
    int mine = it == per_address_.end() ? 0 : it->second;
    bool over_address =
        server.max_client_conn_per_addr > 0 && mine >= server.max_client_conn_per_addr;
    if (over_total || over_address) {
        return std::make_unique<Slot>(this, address, false);
    }
    ++open_;
    ++per_address_[address];
    return std::make_unique<Slot>(this, address, true);
}

void ClientLimits::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    --open_;
    auto it = per_address_.find(address);
    if (it != per_address_.end() && --it->second <= 0) {
        per_address_.erase(it);
    }
}

int ClientLimits::open() const {
    std::lock_guard lock(mutex_);
    return open_;
}

void ClientLimits::prune_failures(Clock::time_point now) {
    for (auto it = failures_.begin(); it != failures_.end();) {
        auto& times = it->second;
        while (!times.empty() && now - times.front() > kWindow) {
            times.pop_front();
        }
        it = times.empty() ? failures_.erase(it) : std::next(it);
    }
}

bool ClientLimits::throttled(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = failures_.find(address);
    if (it == failures_.end()) {
        return false;
    }
    auto now = Clock::now();
    auto& times = it->second;
    while (!times.empty() && now - times.front() > kWindow) {
        times.pop_front();
    }
    return static_cast<int>(times.size()) >= kMaxFailures;
}

void ClientLimits::auth_failed(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    if (failures_.size() >= kMaxTrackedAddresses) {
        prune_failures(now);
    }
    if (failures_.size() >= kMaxTrackedAddresses && !failures_.contains(address)) {
        return;
    }
    auto& times = failures_[address];
    times.push_back(now);
    // Only the newest kMaxFailures matter for the decision.
    while (static_cast<int>(times.size()) > kMaxFailures) {
        times.pop_front();
    }
}

}  // namespace storegate::proxy
