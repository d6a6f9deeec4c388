#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

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

/// The keys a tombstone deleted from such a table (keys folded by the caller), with where the
/// tombstone came from, so that an older record of the key under another spelling or from
/// another partition, read after it, does not bring the key back. Each deletion is remembered
/// for a day after it was applied here: the records it holds against are read by then (at
/// start-up, or written before it), and a tombstone itself may be gone from the topic by then.
/// Not thread-safe: the table's own lock guards it.
class Deletions {
public:
    /// The origin to keep for a record of `folded` from `incoming`, judged against `live` (the
    /// origin of the entry that stands, if any) or else against a remembered deletion of the
    /// key. Nothing: the record is older than the one that stands, and is to be skipped.
    std::optional<RecordOrigin> judge(const std::string& folded, const RecordOrigin* live,
                                      const RecordOrigin& incoming) const;
    /// `folded` deleted by a record from `origin` (as judge() returned it), applied at `now_ms`.
    void remember(const std::string& folded, const RecordOrigin& origin, std::int64_t now_ms);
    /// `folded` written again: its deletion no longer stands.
    void forget(const std::string& folded) { deleted_.erase(folded); }
    /// Forgets the deletions applied more than a day before `now_ms`.
    void expire(std::int64_t now_ms);
    /// Deletions remembered.
    std::size_t size() const { return deleted_.size(); }

private:
    struct Deleted {
        RecordOrigin origin;
        std::uint64_t serial;  ///< tells this deletion from a later one of the key
    };
    std::unordered_map<std::string, Deleted> deleted_;
    struct Applied {
        std::int64_t at_ms;
        std::string folded;
        std::uint64_t serial;
    };
    std::deque<Applied> applied_;  ///< in the order applied
    std::uint64_t next_serial_ = 0;
};

}  // namespace kafka_bridge
