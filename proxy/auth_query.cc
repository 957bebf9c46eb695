#include "proxy/auth_query.h"

#include "common/log.h"
#include "registry/secrets.h"

namespace storegate::proxy {

std::optional<Credential> AuthQuery::fetch(const std::string& user) {
    std::lock_guard lock(mutex_);
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!conn_ || !conn_->ok()) {
            auto dsn = registry::resolve_secret(dsn_, true);
            if (!dsn.value) {
                log::warn("auth_query cannot resolve registry.dsn error=\"{}\"", dsn.error);
                return std::nullopt;
            }
            conn_ = std::make_unique<registry::PgConn>(*dsn.value, "storegate auth_query");
        }
        auto result = conn_->exec(query_, {user});
        if (result.ok()) {
            if (result.rows() != 1 || result.is_null(0, 1) || result.text(0, 1).empty()) {
                return std::nullopt;
            }
            return credential_from_secret(result.text(0, 1));
        }
        log::warn("auth_query failed error=\"{}\"", result.error());
        conn_.reset();  // a broken connection: one fresh try
    }
    return std::nullopt;
}

awaitable<std::optional<Credential>> AuthQuery::lookup(const std::string& user) {
    auto ex = co_await asio::this_coro::executor;
    std::optional<Credential> result;
    asio::steady_timer done(ex, asio::steady_timer::time_point::max());
    asio::post(pool_, [this, &user, &result, &done, ex] {
        result = fetch(user);
        asio::post(ex, [&done] { done.cancel(); });
    });
    co_await done.async_wait(nothrow);
    co_return result;
}

}  // namespace storegate::proxy
