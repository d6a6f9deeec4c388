#include "gateway/commands/route_log.hpp"

namespace gateway::commands {
namespace {

// The command id may hold '#'; the two numbers after it cannot.
std::string key(const std::string& command_id, int hop, int ends) {
    return command_id + "#" + std::to_string(hop) + "#" + std::to_string(ends);
}

}  // namespace

bool RouteLog::take(const std::string& command_id, int hop, int ends, std::int64_t now_ms,
                    std::int64_t at_ms) {
    if (!taken_.insert(key(command_id, hop, ends), now_ms, at_ms)) {
        return false;  // the same decision or claim again
    }
    if (ends == 0 && hop == 0) {
        return true;
    }
    // The claim before this one, or the decision at the hop before (a re-route).
    const std::string followed =
        ends > 0 ? key(command_id, hop, ends - 1) : key(command_id, hop - 1, 0);
    if (taken_.contains(followed + "!", now_ms) || !taken_.insert(followed + ">", now_ms, at_ms)) {
        taken_.insert(key(command_id, hop, ends) + "!", now_ms, at_ms);  // what follows it is not taken
        return false;
    }
    return true;
}

}  // namespace gateway::commands
