#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace gateway::commands {

/// Result records read lately, by command id: a REST call repeating a finished command (a
/// retry with its commandId or Idempotency-Key) is answered from here. Keeps the first result
/// of an id, at most `capacity` records and `max_bytes` of them, none older than `window`.
/// Not thread-safe (the router locks).
class RecentResults {
public:
    RecentResults(std::size_t capacity, std::size_t max_bytes, std::chrono::milliseconds window)
        : capacity_(capacity), max_bytes_(max_bytes), window_(window) {}
    /// `at_ms`: when the result was written (its record's timestamp), Unix ms.
    void insert(const std::string& command_id, std::string record, std::int64_t at_ms);
    /// The result of `command_id` when one is kept and not older than the window at `now_ms`.
    std::optional<std::string> find(const std::string& command_id, std::int64_t now_ms) const;
    std::size_t size() const { return records_.size(); }
    std::size_t bytes() const { return bytes_; }

private:
    struct Kept {
        std::int64_t at_ms;
        std::string record;
    };
    void evict_one();

    std::size_t capacity_;
    std::size_t max_bytes_;
    std::chrono::milliseconds window_;
    std::size_t bytes_ = 0;
    std::unordered_map<std::string, Kept> records_;
    /// Insertion order (times are the records' and may be slightly out of order across
    /// partitions: an entry past its window may wait behind a younger one, find() skips it).
    std::deque<std::pair<std::int64_t, std::string>> order_;
};

}  // namespace gateway::commands
