#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <utility>

namespace gateway::commands {

/// Command ids already taken, remembered for `window` and at most `capacity` of them.
class SeenCommands {
public:
    SeenCommands(std::size_t capacity, std::chrono::milliseconds window)
        : capacity_(capacity), window_(window) {}
    /// True when `id` is new (it is remembered from now on); false for a repeat.
    bool insert(const std::string& id, std::int64_t now_ms);
    bool contains(const std::string& id) const { return ids_.count(id) != 0; }
    std::size_t size() const { return ids_.size(); }

private:
    std::size_t capacity_;
    std::chrono::milliseconds window_;
    std::unordered_set<std::string> ids_;
    std::deque<std::pair<std::int64_t, std::string>> order_;
};

}  // namespace gateway::commands
