// Feeds arbitrary bytes to the startup packet decoder and the options splitter.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocol/startup.h"

using namespace storegate::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    StartupPacket packet;
    size_t consumed = 0;
    const StartupStatus status =
        decode_startup(std::span<const uint8_t>(data, size), packet, consumed);
    if (status == StartupStatus::kReady && (consumed > size || consumed < 8)) {
        __builtin_trap();
    }
    std::vector<StartupOption> options;
    std::vector<std::string> other;
    if (status == StartupStatus::kReady) {
        parse_options(packet.param("options"), options, other);
    }
    parse_options(std::string_view(reinterpret_cast<const char*>(data), size), options, other);
    return 0;
}
