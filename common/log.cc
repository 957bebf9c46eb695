#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace storegate::log {

bool parse_level(std::string_view text, Level& out) {
    static constexpr std::pair<std::string_view, Level> kNames[] = {
        {"trace", Level::kTrace}, {"debug", Level::kDebug}, {"info", Level::kInfo},
        {"warn", Level::kWarn},   {"error", Level::kError}, {"off", Level::kOff},
    };
    for (const auto& [name, level] : kNames) {
        if (name == text) {
            out = level;
            return true;
        }
    }
    return false;
}

static spdlog::level::level_enum to_spdlog(Level level) {
    switch (level) {
        case Level::kTrace:
            return spdlog::level::trace;
        case Level::kDebug:
            return spdlog::level::debug;
        case Level::kInfo:
            return spdlog::level::info;
        case Level::kWarn:
            return spdlog::level::warn;
        case Level::kError:
            return spdlog::level::err;
        case Level::kOff:
            return spdlog::level::off;
    }
    return spdlog::level::info;
}

void set_level(Level level) {
    spdlog::set_level(to_spdlog(level));
}

void init(Level level) {
    auto logger = spdlog::stderr_logger_mt("storegate");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
    set_level(level);
}

bool allow(std::string_view key, int per_second) {
    struct Window {
        std::chrono::steady_clock::time_point start;
        int count = 0;
    };
    static std::mutex mutex;
    static std::unordered_map<std::string, Window> windows;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    if (windows.size() > 10000) {
        windows.clear();
    }
    auto& w = windows[std::string(key)];
    if (now - w.start >= std::chrono::seconds(1)) {
        w.start = now;
        w.count = 0;
    }
    return ++w.count <= per_second;
}

}  // namespace storegate::log
