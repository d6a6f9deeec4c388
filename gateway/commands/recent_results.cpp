#include "gateway/commands/recent_results.hpp"

namespace gateway::commands {

void RecentResults::insert(const std::string& command_id, std::string record, std::int64_t at_ms) {
    if (records_.count(command_id) != 0) {
        return;  // the first result stands
    }
    while (!order_.empty() && at_ms - order_.front().first > window_.count()) {
        evict_one();
    }
    if (record.size() > max_bytes_) {
        return;
    }
    while (!order_.empty() && (records_.size() >= capacity_ || bytes_ + record.size() > max_bytes_)) {
        evict_one();
    }
    bytes_ += record.size();
    records_.emplace(command_id, Kept{at_ms, std::move(record)});
    order_.emplace_back(at_ms, command_id);
}

std::optional<std::string> RecentResults::find(const std::string& command_id, std::int64_t now_ms) const {
    const auto it = records_.find(command_id);
    if (it == records_.end() || now_ms - it->second.at_ms > window_.count()) {
        return std::nullopt;
    }
    return it->second.record;
}

void RecentResults::evict_one() {
    const auto it = records_.find(order_.front().second);
    if (it != records_.end()) {
        bytes_ -= it->second.record.size();
        records_.erase(it);
    }
    order_.pop_front();
}

}  // namespace gateway::commands
