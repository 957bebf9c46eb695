#include "proxy/services.h"

#include "registry/secrets.h"

namespace storegate::proxy {

static bool resolve_backend_password(const registry::Backend& backend, std::string& password,
                                     std::string& error) {
    if (backend.password_secret_ref.empty()) {
        password.clear();
        return true;
    }
    auto secret = registry::resolve_secret(backend.password_secret_ref);
    if (!secret.value) {
        error = secret.error;
        return false;
    }
    password = std::move(*secret.value);
    return true;
}

Services::Services(std::shared_ptr<const Runtime> runtime, int workers, uint8_t instance_tag)
    : pools(workers, resolve_backend_password),
      cancels(instance_tag),
      runtime_(std::move(runtime)) {}

}  // namespace storegate::proxy
