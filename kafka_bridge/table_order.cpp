#include "kafka_bridge/table_order.hpp"

#include <algorithm>
#include <tuple>

namespace kafka_bridge {

RecordOrigin RecordOrigin::of(std::string_view key, std::int32_t partition,
                              std::int64_t timestamp_ms) {
    // FNV-1a: every instance, whatever its build, must order spellings alike.
    std::uint64_t hash = 14695981039346656037ULL;
    for (const char c : key) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return RecordOrigin{partition, timestamp_ms, hash};
}

std::optional<RecordOrigin> supersede(const RecordOrigin& standing, const RecordOrigin& incoming) {
    if (incoming.partition == standing.partition) {
        // Read in the partition's order: the later one.
        RecordOrigin kept = incoming;
        kept.timestamp_ms = std::max(incoming.timestamp_ms, standing.timestamp_ms);
        return kept;
    }
    if (std::tie(incoming.timestamp_ms, incoming.spelling, incoming.partition) >
        std::tie(standing.timestamp_ms, standing.spelling, standing.partition)) {
        return incoming;
    }
    return std::nullopt;
}

std::optional<RecordOrigin> Deletions::judge(const std::string& folded, const RecordOrigin* live,
                                             const RecordOrigin& incoming) const {
    if (!live) {
        const auto it = deleted_.find(folded);
        if (it == deleted_.end()) {
            return incoming;
        }
        live = &it->second.origin;
    }
    return supersede(*live, incoming);
}

void Deletions::remember(const std::string& folded, const RecordOrigin& origin, std::int64_t now_ms) {
    const std::uint64_t serial = next_serial_++;
    deleted_[folded] = Deleted{origin, serial};
    applied_.push_back(Applied{now_ms, folded, serial});
}

void Deletions::expire(std::int64_t now_ms) {
    constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;
    while (!applied_.empty() && applied_.front().at_ms < now_ms - kDayMs) {
        const auto it = deleted_.find(applied_.front().folded);
        if (it != deleted_.end() && it->second.serial == applied_.front().serial) {
            deleted_.erase(it);  // neither deleted again nor written since
        }
        applied_.pop_front();
    }
}

}  // namespace kafka_bridge
