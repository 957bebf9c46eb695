// One thin wrapper over spdlog. A line is a short lowercase event followed by key=value fields:
//   log::info("client connected", "session={} addr={}", id, addr);
// Callers never pass secrets, SCRAM payloads or bind values.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace storegate::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace|debug|info|warn|error|off"; returns false for anything else.
bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
// Sets up the process-wide logger (stderr, one line per event). Safe to call once at start.
void init(Level level);

template <typename... Args>
void trace(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::trace(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::error(fmt, std::forward<Args>(args)...);
}

// True at most `per_second` times a second for one key; lets client-triggered events log
// without letting a flood of them fill the disk.
bool allow(std::string_view key, int per_second = 5);

}  // namespace storegate::log
