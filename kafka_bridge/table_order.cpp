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

}  // namespace kafka_bridge
