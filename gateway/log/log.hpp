#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <string_view>

namespace gateway::log {

enum class Level : std::uint8_t { debug, info, warn, error };

/// Sets the threshold; "debug", "info", "warn" or "error".
void set_level(std::string_view name);
bool enabled(Level level);
/// Writes one line to stderr: time, level, message. Thread-safe.
void write(Level level, std::string_view message);
/// Names the calling thread where operators look (`top -H`, `ps -L`, perf, gdb); Linux keeps
/// the first 15 characters.
void name_thread(std::string_view name);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::debug)) {
        write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::info)) {
        write(Level::info, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::warn)) {
        write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace gateway::log
