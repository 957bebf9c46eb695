// CancelRequests for clients of other storegate instances. A client's cancel connection may
// land on any instance behind a load balancer; the 7-bit tag in the key's pid names the
// instance that issued the key, and storegate_instances.instance_tag says where it listens.
#pragma once

#include <cstdint>

#include "proxy/net.h"

namespace storegate::proxy {

class Services;

// Sends the 16-byte CancelRequest (protocol docs, "Canceling Requests in Progress") to the
// live instance whose tag the pid carries, when that is not this instance. Best effort, like
// every cancel: nothing is reported back, and an unknown tag drops the request.
awaitable<void> forward_cancel(Services& services, int32_t pid, int32_t secret);

}  // namespace storegate::proxy
