#include "proxy/run.h"

namespace storegate::proxy {

int run(const std::string& config_path) { return 1; }

}  // namespace storegate::proxy
