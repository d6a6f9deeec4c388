#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gateway::commands {

/// REST callers waiting for a command's result record. Not thread-safe (the router locks).
class Waiters {
public:
    using Clock = std::chrono::steady_clock;
    /// Called once: with the result record (JSON text), or with nothing when none arrived in
    /// time or the instance stops.
    using Callback = std::function<void(std::optional<std::string>)>;

    /// Returns the waiter's number, for remove().
    std::uint64_t add(const std::string& command_id, Clock::time_point deadline, Callback callback);
    /// Drops waiter `number` of `command_id` (others waiting for the same command stay).
    void remove(const std::string& command_id, std::uint64_t number);
    /// The callbacks waiting for `command_id`, removed.
    std::vector<Callback> take(const std::string& command_id);
    /// The callbacks whose deadline is at or before `now`, removed.
    std::vector<Callback> take_expired(Clock::time_point now);
    /// Every callback, removed.
    std::vector<Callback> take_all();

private:
    struct Waiter {
        Clock::time_point deadline;
        Callback callback;
        std::uint64_t number = 0;
    };
    std::uint64_t next_number_ = 0;
    std::map<std::string, std::vector<Waiter>> waiting_;
};

}  // namespace gateway::commands
