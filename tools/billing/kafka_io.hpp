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
/// transaction). Closed sessions last changed before `retire_before_ms` are kept retired.
/// Refuses to start (exit 4) on records this version cannot read that no later record or
/// tombstone of their key replaced; exits 3 after a minute without progress, 0 when `stop`
/// is set.
void restore(const Options& o, int partitions, std::int64_t retire_before_ms, const volatile std::sig_atomic_t& stop,
             Book& book);

/// How far the consumer has read, as a time (Unix ms): for each assigned partition the
/// Kafka timestamp of the last record read from it, or now once it has read all there is
/// (enable.partition.eof); the earliest of those. 0 while any assigned partition has given
/// neither, or nothing is assigned. A session unchanged since well before it will see no
/// event the consumer has not read.
class ReadProgress {
public:
    void record(const rd_kafka_message_t* m, std::int64_t at_ms);
    void end_of(const rd_kafka_message_t* m);
    std::int64_t up_to(rd_kafka_t* consumer, std::int64_t now_ms) const;

private:
    struct Partition {
        bool at_end = false;
        std::int64_t last_ms = 0;
    };
    std::map<std::pair<std::string, std::int32_t>, Partition> partitions_;
};

/// Writes "read-up-to:<ms>" as the commit metadata of every partition in `offsets`: how far
/// the consumer had read when it committed them, read back by committed_read_up_to().
void set_read_up_to(rd_kafka_topic_partition_list_t* offsets, std::int64_t up_to_ms);
/// The latest "read-up-to" among the group's committed offsets of the input topics; 0 when
/// none says (a new group, commits of an earlier version, offsets not readable).
std::int64_t committed_read_up_to(rd_kafka_t* consumer, const Options& o);

}  // namespace billing
