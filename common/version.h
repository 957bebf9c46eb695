// The storegate release, as `storegate --version` prints it and each instance records in the
// registry (storegate_instances.storegate_version).
#pragma once

namespace storegate {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace storegate
