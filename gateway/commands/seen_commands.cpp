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
