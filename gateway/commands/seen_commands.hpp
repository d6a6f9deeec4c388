#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace gateway::commands {

/// One command among those that share a command id: the id with the lower-case station id, as
/// one key (the station's length first, so no two pairs give the same key). Every route record
/// of a command goes to its station's partition, so every instance reads them in one order;
/// a station's command is never judged by another station's records of the same id, which
/// are in another partition, read in no fixed order with it.
std::string command_key(std::string_view command_id, std::string_view station_id);
/// A command id as used for one station and action: a record with the same id for the same
/// station and action is a repeat; one for another station or action reuses the id.
std::string command_use_key(std::string_view command_id, std::string_view station_id,
                            std::string_view action);

/// Command ids already taken, remembered for `window` from when they were taken and at most
/// `capacity` of them.
class SeenCommands {
public:
    SeenCommands(std::size_t capacity, std::chrono::milliseconds window)
        : capacity_(capacity), window_(window) {}
    /// True when `id` is new, or was taken longer than the window before `now_ms` (it is
    /// remembered from now on); false for a repeat.
    bool insert(const std::string& id, std::int64_t now_ms) { return insert(id, now_ms, now_ms); }
    /// The same for an id taken at `at_ms` (a record's time, read later; not after `now_ms`).
    bool insert(const std::string& id, std::int64_t now_ms, std::int64_t at_ms);
    /// Whether `id` is remembered (perhaps past its window, until an insert forgets it).
    bool contains(const std::string& id) const { return ids_.count(id) != 0; }
    /// Whether `id` was taken within the window before `now_ms`.
    bool contains(const std::string& id, std::int64_t now_ms) const;
    std::size_t size() const { return ids_.size(); }
    /// Ids forgotten within their window because `capacity` was reached.
    std::uint64_t forgotten_early() const { return forgotten_early_; }

private:
    std::size_t capacity_;
    std::chrono::milliseconds window_;
    /// When each id was taken; `order_` in the order they were remembered, which is not that
    /// of their times when they come from records of several partitions.
    std::unordered_map<std::string, std::int64_t> ids_;
    std::deque<std::pair<std::int64_t, std::string>> order_;
    std::uint64_t forgotten_early_ = 0;
};

}  // namespace gateway::commands
