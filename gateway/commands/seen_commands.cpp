#include "gateway/commands/seen_commands.hpp"

namespace gateway::commands {

bool SeenCommands::insert(const std::string& id, std::int64_t now_ms) {
    while (!order_.empty() &&
           (order_.size() >= capacity_ || now_ms - order_.front().first > window_.count())) {
        ids_.erase(order_.front().second);
        order_.pop_front();
    }
    if (!ids_.insert(id).second) {
        return false;
    }
    order_.emplace_back(now_ms, id);
    return true;
}

}  // namespace gateway::commands
