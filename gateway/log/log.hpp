#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

/// A warning that may come in floods (unusable records of a table topic): the first is
/// logged, then at most one a minute, saying how many were left out between. Every one is
/// counted (count(), from any thread); warn() is called from one thread.
class ThrottledWarning {
public:
    template <typename... Args>
    void warn(fmt::format_string<Args...> f, Args&&... args) {
        count_.fetch_add(1, std::memory_order_relaxed);
        if (!enabled(Level::warn)) {
            return;
        }
        if (auto left_out = due(std::chrono::steady_clock::now())) {
            write(Level::warn, fmt::format(f, std::forward<Args>(args)...) + *left_out);
        }
    }
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
    /// Whether one is logged at `now`, with what to add about those left out since the last.
    std::optional<std::string> due(std::chrono::steady_clock::time_point now);

    std::atomic<std::uint64_t> count_{0};
    std::chrono::steady_clock::time_point last_{};
    std::uint64_t left_out_ = 0;
};

}  // namespace gateway::log
