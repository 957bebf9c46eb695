#include "proxy/admin_control.h"

#include <openssl/crypto.h>

#include "common/log.h"
#include "proxy/admin_registry.h"
#include "proxy/services.h"
#include "registry/pg_registry.h"
#include "registry/secrets.h"
#include "registry/watcher.h"

namespace storegate::proxy {

namespace {

boost::json::object store_json(const registry::Store& store) {
    return {{"id", store.id.to_string()}, {"slug", store.slug},     {"name", store.name},
            {"status", store.status},     {"paused", store.paused}, {"db_key", store.db_key}};
}

AdminReply from_edit(const RegistryEdit& edit) {
    if (edit.status != 200) {
        AdminReply reply = AdminReply::error(edit.status, edit.error);
        if (edit.status == 409) {
            reply.body["version"] = edit.version;
        }
        return reply;
    }
    AdminReply reply;
    reply.body["store"] = store_json(edit.store);
    reply.body["version"] = edit.version;
    reply.body["changed"] = edit.changed;
    return reply;
}

}  // namespace

AdminReply AdminReply::error(int status, std::string message) {
    AdminReply reply;
    reply.status = status;
    reply.body["error"] = std::move(message);
    return reply;
}

bool AdminControl::ready() const {
    if (!ready_.load()) {
        return false;
    }
    // The watcher is set before set_ready(true) and never replaced while running.
    registry::Watcher* watcher = services_.watcher.get();
    return watcher == nullptr || watcher->wait_loaded(std::chrono::milliseconds(0));
}

void AdminControl::set_reload(asio::any_io_executor executor, std::function<bool()> reload) {
    std::lock_guard lock(mutex_);
    reload_executor_ = std::move(executor);
    reload_ = std::move(reload);
}

void AdminControl::apply(const config::Config& config) {
    std::string token;
    if (!config.admin.token.empty()) {
        auto secret = registry::resolve_secret(config.admin.token, true);
        if (secret.value) {
            token = std::move(*secret.value);
        } else {
            log::error(
                "admin token unavailable error=\"{}\"; the admin API refuses every "
                "authenticated request",
                secret.error);
        }
    }
    services_.metrics.set_store_limit(static_cast<size_t>(config.admin.store_metrics_limit));
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
}

void AdminControl::started() {
    services_.metrics.set_watcher(services_.watcher.get());
    services_.metrics.registry_loaded();
    set_ready(true);
}

void AdminControl::reloaded(const config::Config* applied) {
    services_.metrics.config_reload(applied != nullptr);
    if (applied != nullptr) {
        apply(*applied);
    }
}

bool AdminControl::token_matches(std::string_view presented) const {
    std::lock_guard lock(mutex_);
    if (token_.empty() || presented.size() != token_.size()) {
        return false;
    }
    return CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) == 0;
}

std::string AdminControl::registry_dsn() const {
    return services_.runtime()->config->registry.dsn;
}

awaitable<AdminReply> AdminControl::set_paused(const std::string& store_key, bool paused,
                                               const std::string& actor) {
    std::string dsn = registry_dsn();
    if (dsn.empty()) {
        co_return AdminReply::error(501,
                                    "pause and resume need the PostgreSQL registry; "
                                    "with a file registry, edit the file and reload");
    }
    // Named: run_blocking keeps a reference to the work while it runs.
    auto work = [&] { return set_store_paused(dsn, store_key, paused, actor); };
    auto edit = co_await services_.run_blocking(work);
    if (edit.status == 200 && edit.changed) {
        log::info("store {} store={} version={} actor=\"{}\"", paused ? "paused" : "resumed",
                  edit.store.id.to_string(), edit.version, actor);
    }
    // This instance sees its own change at once; the change feed brings it to the others (and
    // here again, harmlessly). A table already past this version has newer state: keep it.
    if (edit.status == 200 && services_.routing.version() < edit.version) {
        services_.routing.upsert_store(edit.store);
    }
    co_return from_edit(edit);
}

awaitable<AdminReply> AdminControl::set_route(const std::string& store_key,
                                              const std::string& db_key, uint64_t version,
                                              const std::string& actor) {
    std::string dsn = registry_dsn();
    if (dsn.empty()) {
        co_return AdminReply::error(501,
                                    "route changes need the PostgreSQL registry; with a "
                                    "file registry, edit the file and reload");
    }
    auto work = [&] { return set_store_route(dsn, store_key, db_key, version, actor); };
    auto edit = co_await services_.run_blocking(work);
    if (edit.status == 200 && edit.changed) {
        log::info("store routed store={} db_key={} old_db_key={} version={} actor=\"{}\"",
                  edit.store.id.to_string(), db_key, edit.old_db_key, edit.version, actor);
    }
    if (edit.status == 200 && services_.routing.version() < edit.version) {
        services_.routing.upsert_store(edit.store);
    }
    AdminReply reply = from_edit(edit);
    if (edit.status == 200) {
        reply.body["old_db_key"] = edit.old_db_key;
    }
    co_return reply;
}

awaitable<AdminReply> AdminControl::instances() {
    std::string dsn = registry_dsn();
    if (dsn.empty()) {
        co_return AdminReply::error(501, "the instance list lives in the PostgreSQL registry");
    }
    auto work = [&dsn] { return list_instances(dsn); };
    auto list = co_await services_.run_blocking(work);
    if (!list.ok) {
        co_return AdminReply::error(503, list.error);
    }
    boost::json::array rows;
    for (const auto& row : list.rows) {
        rows.push_back({{"id", row.id},
                        {"address", row.address},
                        {"admin_address", row.admin_address},
                        {"storegate_version", row.storegate_version},
                        {"started_at", row.started_at},
                        {"heartbeat_at", row.heartbeat_at},
                        {"heartbeat_age_seconds", row.heartbeat_age_seconds},
                        {"applied_version", row.applied_version},
                        {"self", row.id == services_.instance_id}});
    }
    AdminReply reply;
    reply.body["registry_version"] = list.registry_version;
    reply.body["instances"] = std::move(rows);
    co_return reply;
}

awaitable<AdminReply> AdminControl::reload() {
    asio::any_io_executor executor;
    std::function<bool()> fn;
    {
        std::lock_guard lock(mutex_);
        executor = reload_executor_;
        fn = reload_;
    }
    if (!fn) {
        co_return AdminReply::error(503, "not running yet");
    }
    auto pending = asio::co_spawn(
        executor, [fn]() -> awaitable<bool> { co_return fn(); }, asio::use_awaitable);
    bool applied = co_await std::move(pending);
    if (!applied) {
        co_return AdminReply::error(422,
                                    "configuration rejected; the log names each problem and "
                                    "the previous configuration stays in force");
    }
    AdminReply reply;
    reply.body["reloaded"] = true;
    co_return reply;
}

AdminReply AdminControl::set_log_level(std::string_view level) {
    log::Level parsed;
    if (!log::parse_level(level, parsed)) {
        return AdminReply::error(400,
                                 "log level must be one of trace, debug, info, warn, "
                                 "error, off");
    }
    log::set_level(parsed);
    log::warn("log level changed level={}", level);
    AdminReply reply;
    reply.body["log_level"] = std::string(level);
    return reply;
}

}  // namespace storegate::proxy
