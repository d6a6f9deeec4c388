#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kafka_bridge {

/// Where a record of a compacted table came from, for telling which of two records of one
/// key stands when the table's keys are compared without regard to letter case.
///
/// Kafka partitions and compacts by a key's bytes: "04A2" and "04a2" are two keys, in two
/// partitions in general, and so is one key before and after its topic gained partitions.
/// Readers interleave two partitions in no agreed order (a restarted reader differently from
/// a running one), so "the last record read" would leave instances with different entries.
/// Within one partition its order holds: the later record stands. Across partitions the later
/// record time does (ties: the spelling with the larger hash, then the larger partition), so
/// every reader ends with the same record however it interleaved them.
struct RecordOrigin {
    std::int32_t partition = -1;
    std::int64_t timestamp_ms = -1;  ///< the record's time; -1: none
    std::uint64_t spelling = 0;      ///< a hash of the key as written (stable across builds)

    /// The origin of a record with key `key` as written.
    static RecordOrigin of(std::string_view key, std::int32_t partition, std::int64_t timestamp_ms);
};

/// When a record from `incoming` replaces the one from `standing` (of the same key, compared
/// without case): the origin to remember for it, whose time is never earlier than the one it
/// replaced within its partition (a producer's clock stepping back does not reorder what
/// follows). Nothing when the standing record stays.
std::optional<RecordOrigin> supersede(const RecordOrigin& standing, const RecordOrigin& incoming);

}  // namespace kafka_bridge
