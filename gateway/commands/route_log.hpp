#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/commands/seen_commands.hpp"

namespace gateway::commands {

/// Which route records of ocpp.command-routes are taken, the same on every instance since all
/// read each partition in the same order (docs/commands.md "Routes"). A record is a decision
/// (a command at a hop: 0 when the owner decided, n after the station moved n times) or a
/// claim to end one whose writer went away (the n-th claim follows the (n-1)-th, the first
/// follows the decision). Taken: the first record of its kind that follows a taken record
/// nothing else has followed yet; so a claim and a re-route of one decision never both stand,
/// nor two claims, nor anything that follows a record not taken. A hop-0 decision follows
/// nothing. What follows a record forgotten since (the window, or more than `capacity`
/// records) is taken. Not thread-safe.
class RouteLog {
public:
    RouteLog(std::size_t capacity, std::chrono::milliseconds window) : taken_(capacity, window) {}

    /// Whether the record of `command` (its command_key: one station's command of that id) at
    /// `hop` (`ends`: 0 for the decision, n for the n-th claim) is taken; it is remembered
    /// either way, for the window from `at_ms` (the record's time, not after `now_ms`), so
    /// that an instance reading the record back days later judges as one that read it then.
    bool take(const std::string& command, int hop, int ends, std::int64_t now_ms,
              std::int64_t at_ms);
    bool take(const std::string& command, int hop, int ends, std::int64_t now_ms) {
        return take(command, hop, ends, now_ms, now_ms);
    }

private:
    /// Records seen ("id#hop#ends"), records followed by a taken one (the same with ">") and
    /// records not taken although new (with "!").
    SeenCommands taken_;
};

}  // namespace gateway::commands
