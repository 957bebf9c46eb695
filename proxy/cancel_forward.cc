#include "proxy/cancel_forward.h"

#include "common/log.h"
#include "proxy/services.h"
#include "registry/pg_conn.h"

namespace storegate::proxy {

namespace {

// The listen address of the most recently seen live instance with `tag`, other than `self`.
std::string instance_address(const std::string& dsn, uint8_t tag, const std::string& self) {
    registry::PgConn conn(dsn, "storegate cancel");
    if (!conn.ok()) {
        return {};
    }
    registry::PgResult r = conn.exec(
        "SELECT address FROM storegate_instances WHERE instance_tag = $1::smallint AND id <> $2 "
        "AND heartbeat_at > now() - interval '30 seconds' ORDER BY heartbeat_at DESC LIMIT 1",
        {std::to_string(tag), self});
    return r.ok() && r.rows() == 1 ? r.text(0, 0) : std::string();
}

}  // namespace

awaitable<void> forward_cancel(Services& services, int32_t pid, int32_t secret) {
    uint8_t tag = CancelRegistry::tag_of(pid);
    std::string dsn = services.runtime()->config->registry.dsn;
    if (tag == services.cancels.instance_tag() || dsn.empty()) {
        co_return;  // ours (the client is gone) or no fleet to ask
    }
    std::string self = services.instance_id;
    auto lookup = [&dsn, tag, &self] { return instance_address(dsn, tag, self); };
    std::string address = co_await services.run_blocking(lookup);
    auto endpoint = parse_tcp_endpoint(address);
    if (!endpoint) {
        log::info("cancel dropped: no live instance with tag={}", tag);
        co_return;
    }
    log::info("cancel forwarded to instance address={} tag={}", address, tag);
    CancelTarget::Backend target{
        asio::generic::stream_protocol::endpoint(endpoint->data(), endpoint->size()), pid, secret};
    co_await send_cancel(target);
}

}  // namespace storegate::proxy
