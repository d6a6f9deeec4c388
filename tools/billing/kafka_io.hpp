#pragma once

#include <librdkafka/rdkafka.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "tools/billing/book.hpp"
#include "tools/billing/options.hpp"

namespace billing {

/// Says `what` on stderr and exits with `code` (3: Kafka failed; restarting may help).
[[noreturn]] void die(const std::string& what, int code = 3);
/// Exit code of a refusal to start that restarting does not cure.
constexpr int kRefused = 4;
/// Dies with `what` when librdkafka returned an error (and frees it).
void check(rd_kafka_error_t* error, const char* what);
/// Dies with the fatal error `rk` holds, after `what`.
[[noreturn]] void die_fatal(rd_kafka_t* rk, const std::string& what);
/// A librdkafka configuration with the brokers and every --property (exit 2 on one it refuses).
rd_kafka_conf_t* base_conf(const Options& o);
rd_kafka_t* make(rd_kafka_type_t type, rd_kafka_conf_t* conf);
void set(rd_kafka_conf_t* conf, const char* k, const char* v);
/// "topic partition P offset O" of a record, for log lines.
std::string where(const rd_kafka_message_t* m);
std::int64_t unix_now_ms();

/// Creates the sessions topic (compacted) when it does not exist, refuses one that is not
/// compacted (exit 4), and waits until the cluster lists its partitions with leaders. Returns
/// their count. Runs its admin requests on `rk`.
int prepare_sessions_topic(rd_kafka_t* rk, const Options& o);

/// Reads the sessions topic back into `book` (read_committed: up to its last committed
/// transaction). Closed sessions last changed before `retire_before_ms` are kept retired; a
/// record of an earlier version, without the time of its last change, is taken as changed at
/// `unstamped_ms`.
/// Refuses to start (exit 4) on records this version cannot read that no later record or
/// tombstone of their key replaced; exits 3 after a minute without progress, 0 when `stop`
/// is set.
void restore(const Options& o, int partitions, std::int64_t retire_before_ms, std::int64_t unstamped_ms,
             const volatile std::sig_atomic_t& stop, Book& book);

/// How far the consumer has read, as a time (Unix ms): a point before which every record of
/// its assigned partitions has been read, so that a session last changed more than the
/// horizon before it will see no event that is not late (Book::stale). Per partition: the
/// moment its end was last confirmed by the cluster (the consumer's position at the end
/// offset), else the latest record time read from it; the earliest of those, less `slack_ms`
/// (record times are the producers' clocks, set up to a delivery timeout before the broker
/// appends them). Never moves back: a point once found stays a bound.
class ReadProgress {
public:
    /// `floor_ms`: a point found earlier (the last commit's, read back at start); 0: none.
    ReadProgress(std::int64_t slack_ms, std::int64_t floor_ms) : slack_ms_(slack_ms), floor_(floor_ms) {}
    void record(const rd_kafka_message_t* m, std::int64_t at_ms);
    /// A partition's end reached (RD_KAFKA_RESP_ERR__PARTITION_EOF): its offset.
    void end_of(const rd_kafka_message_t* m);
    /// Finds the point anew: asks the cluster where each assigned partition ends (its leader's
    /// low and high offsets, per partition). Returns the point (0: not known yet).
    std::int64_t refresh(rd_kafka_t* consumer);
    /// The point as last found.
    std::int64_t point() const { return floor_; }

private:
    struct Partition {
        std::int64_t last_ms = 0;      ///< latest record time read; 0: none
        std::int64_t end_offset = -1;  ///< offset of its last end-of-partition event
    };
    std::map<std::pair<std::string, std::int32_t>, Partition> partitions_;
    std::int64_t slack_ms_;
    std::int64_t floor_;
};

/// Offsets by topic and partition.
using Offsets = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;

/// Writes "read-up-to:<ms>" as the commit metadata of every partition in `offsets`: how far
/// the consumer had read when it committed them, read back by committed_read_up_to().
void set_read_up_to(rd_kafka_topic_partition_list_t* offsets, std::int64_t up_to_ms);
/// The earliest "read-up-to" among the group's committed offsets of the input topics; 0 when
/// a committed partition has none (a new group, commits of an earlier version, offsets reset
/// by an operator). Fills `committed` with the committed offsets. Exits 3 when they cannot be
/// read: going on would read every session back into memory.
std::int64_t committed_read_up_to(rd_kafka_t* consumer, const Options& o, Offsets& committed);
/// Adds to `offsets` every other assigned partition, at the consumer's position (or, when
/// nothing was read from it since its assignment, at `committed`: the caller keeps it at each
/// partition's latest commit): so that each commit carries the read-up-to point on every
/// partition.
void add_assigned(rd_kafka_t* consumer, const Offsets& committed, Offsets& offsets);

}  // namespace billing
