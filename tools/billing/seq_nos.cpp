#include "tools/billing/seq_nos.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace billing {
namespace {

/// Whether a range ending at `last` and one starting at `first` overlap or touch.
bool touches(std::int64_t last, std::int64_t first) {
    return last >= first || (first != INT64_MIN && last == first - 1);
}

}  // namespace

bool SeqNos::insert(std::int64_t n) {
    if (contains(n)) {
        return false;
    }
    insert_range(n, n);
    return true;
}

bool SeqNos::insert_range(std::int64_t low, std::int64_t high) {
    if (high < low) {
        return false;
    }
    auto it = ranges_.upper_bound(low);
    if (it != ranges_.begin()) {
        const auto before = std::prev(it);
        if (touches(before->second, low)) {
            low = before->first;
            high = std::max(high, before->second);
            it = ranges_.erase(before);
        }
    }
    while (it != ranges_.end() && touches(high, it->first)) {
        high = std::max(high, it->second);
        it = ranges_.erase(it);
    }
    ranges_.emplace_hint(it, low, high);
    if (ranges_.size() > kMaxRanges) {
        ranges_.erase(ranges_.begin());
    }
    return true;
}

void SeqNos::insert_all(const SeqNos& other) {
    for (const auto& [low, high] : other.ranges_) {
        insert_range(low, high);
    }
}

bool SeqNos::contains(std::int64_t n) const {
    auto it = ranges_.upper_bound(n);
    return it != ranges_.begin() && std::prev(it)->second >= n;
}

}  // namespace billing
