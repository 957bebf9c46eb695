#include "proxy/run.h"

#include <csignal>
#include <iostream>

#include "common/log.h"
#include "config/config.h"
#include "proxy/server.h"

namespace storegate::proxy {

int run(const std::string& config_path) {
    auto loaded = config::load(config_path);
    if (!loaded.errors.empty()) {
        for (const auto& e : loaded.errors) {
            std::cerr << e.to_string(config_path) << "\n";
        }
        return 1;
    }
    log::init(loaded.config->log.level);
    std::signal(SIGPIPE, SIG_IGN);
    auto config = std::make_shared<const config::Config>(std::move(*loaded.config));
    Server server(config);
    return server.run();
}

}  // namespace storegate::proxy
