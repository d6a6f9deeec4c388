#include "gateway/commands/seen_commands.hpp"

#include "kafka_bridge/commands.hpp"

namespace gateway::commands {

std::string command_key(std::string_view command_id, std::string_view station_id) {
    std::string key = std::to_string(station_id.size());
    key += ':';
    key += kafka_bridge::presence_key(station_id);
    key += command_id;
    return key;
}

std::string command_use_key(std::string_view command_id, std::string_view station_id,
                            std::string_view action) {
    std::string key = std::to_string(action.size());
    key += ':';
    key += action;
    key += command_key(command_id, station_id);
    return key;
}

bool SeenCommands::insert(const std::string& id, std::int64_t now_ms, std::int64_t at_ms) {
    while (!order_.empty() &&
           (order_.size() >= capacity_ || now_ms - order_.front().first > window_.count())) {
        const auto it = ids_.find(order_.front().second);
        if (it != ids_.end() && it->second == order_.front().first) {
            if (now_ms - it->second <= window_.count()) {
                ++forgotten_early_;
            }
            ids_.erase(it);  // not taken again since
        }
        order_.pop_front();
    }
    const auto it = ids_.find(id);
    if (it != ids_.end() && now_ms - it->second <= window_.count()) {
        return false;
    }
    if (now_ms - at_ms > window_.count()) {
        return true;  // past its window already: nothing to remember it for
    }
    if (it != ids_.end()) {
        it->second = at_ms;  // past its window, behind younger ones in order_: new again
    } else {
        ids_.emplace(id, at_ms);
    }
    order_.emplace_back(at_ms, id);
    return true;
}

bool SeenCommands::contains(const std::string& id, std::int64_t now_ms) const {
    const auto it = ids_.find(id);
    return it != ids_.end() && now_ms - it->second <= window_.count();
}

}  // namespace gateway::commands
