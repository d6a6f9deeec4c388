#pragma once

#include <chrono>
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

    void add(const std::string& command_id, Clock::time_point deadline, Callback callback);
    void remove(const std::string& command_id) { waiting_.erase(command_id); }
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
    };
    std::map<std::string, std::vector<Waiter>> waiting_;
};

}  // namespace gateway::commands
