#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kafka_bridge/error.hpp"
#include "ocpp/result.hpp"

struct rd_kafka_s;

namespace kafka_bridge {

using ocpp::Ok;
using ocpp::Result;

struct ConsumerConfig {
    /// bootstrap.servers
    std::string brokers = "127.0.0.1:9092";
    /// Set: the consumer joins this group and subscribes (partitions shared among the
    /// group's members, offsets committed). Unset: it reads every partition it is assigned.
    std::optional<std::string> group_id;
    /// How long a silent group member keeps its partitions (a crashed instance's partitions
    /// move to the others after this).
    std::chrono::milliseconds session_timeout{10000};
    /// Any other librdkafka property (security.protocol, sasl.*, ssl.*, ...).
    std::map<std::string, std::string> properties;
    /// Receives librdkafka's log lines; see ProducerConfig::log.
    std::function<void(int, const char*, const char*)> log;
};

/// One record read.
struct Message {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::optional<std::string> key;
    std::optional<std::string> value;  ///< nullopt: a tombstone
    std::int64_t timestamp_ms = -1;    ///< the record's timestamp, -1 when it has none
};

/// Per partition: the offset reading starts at (Consumer::assign_all; elsewhere the first
/// offset still stored) and the offset the next record will get.
using Watermarks =
    std::map<std::pair<std::string, std::int32_t>, std::pair<std::int64_t, std::int64_t>>;

/// How far a consumer group is behind on one partition (Consumer::group_lag).
struct PartitionLag {
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t committed = -1;  ///< the group's committed offset; -1: none
    std::int64_t end = 0;         ///< the offset the next record will get
    std::int64_t records = 0;     ///< records the group has not consumed
    /// Timestamp of the oldest record the group has not consumed; -1: none (caught up) or
    /// not read within the timeout.
    std::int64_t oldest_unconsumed_ms = -1;
};

/// A Kafka consumer owning its librdkafka handle. Used from one thread.
///
///   group mode:  subscribe(topics) ─▶ poll() ─▶ … ─▶ store(offset) ─▶ committed in the background
///   table mode:  assign_all({topic, beginning|end|since}…) ─▶ poll() … past the watermarks
class Consumer {
public:
    static Result<std::unique_ptr<Consumer>, Error> create(const ConsumerConfig& config);
    ~Consumer();
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;

    /// Group mode: joins the group for `topics`. A new group starts at the earliest offset,
    /// so records written before the first instance started are not skipped.
    Result<Ok, Error> subscribe(const std::vector<std::string>& topics);

    /// `since`: from the first record whose timestamp is at or after assign_all's `since_ms`
    /// (the end when there is none); `last`: the last `since_ms` offsets of each partition.
    enum class Start : std::uint8_t { beginning, end, since, last };
    /// Table mode: reads every partition of each topic, from its beginning, its end, a time
    /// or its last records. Returns for each partition the offset reading starts at and the
    /// end offset at assignment, so the caller knows when it has caught up.
    Result<Watermarks, Error> assign_all(const std::vector<std::pair<std::string, Start>>& topics,
                                         std::chrono::milliseconds timeout,
                                         std::int64_t since_ms = 0);

    /// Table mode: the offset the next record of each partition of `topic` (an assigned one)
    /// will get, asked of the brokers now. Errors: not assigned, or not answered in `timeout`.
    Result<std::map<std::int32_t, std::int64_t>, Error> end_offsets(const std::string& topic,
                                                                    std::chrono::milliseconds timeout);

    /// Table mode: partitions that appeared since assign_all (a topic's partition count grew),
    /// added to the assignment from their beginning. Returns them (empty: none appeared).
    /// Errors: the metadata could not be read within `timeout`, or the assignment failed.
    Result<std::vector<std::pair<std::string, std::int32_t>>, Error> assign_new_partitions(
        std::chrono::milliseconds timeout);

    /// Table mode: for each of `partitions`, the offset after the last record or transaction
    /// marker poll() has passed (RD_KAFKA_OFFSET_INVALID, below 0, when none yet).
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> positions(
        const std::vector<std::pair<std::string, std::int32_t>>& partitions) const;

    /// The next record, or nothing within `timeout`. Consumer errors (broker down, …) are
    /// logged by librdkafka and retried; only the last one is kept (last_error()).
    std::optional<Message> poll(std::chrono::milliseconds timeout);

    /// Group mode: `next_offset` of `topic`/`partition` may be committed (everything before
    /// it is handled).
    void store(const std::string& topic, std::int32_t partition, std::int64_t next_offset);

    /// Leaves the group (committing stored offsets) and closes, waiting at most `timeout` for
    /// the brokers. Returns false when it gave up (the group then notices the member is gone
    /// after its session timeout). Idempotent; the destructor calls it with the default.
    bool close(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    /// Lag of consumer group `group` on every partition of `topics`: its committed offsets
    /// (ListConsumerGroupOffsets; none: from the first record still stored), the end offsets,
    /// and the timestamp of the first record it has not consumed, read by assigning this
    /// consumer to those offsets (its previous assignment is dropped: use a consumer of its
    /// own). Errors: unreachable cluster, unknown topic, refused (authorization).
    Result<std::vector<PartitionLag>, Error> group_lag(const std::string& group,
                                                       const std::vector<std::string>& topics,
                                                       std::chrono::milliseconds timeout);

    std::optional<Error> last_error() const { return last_error_; }

private:
    struct HandleDeleter {
        void operator()(rd_kafka_s* handle) const;
    };
    Consumer() = default;

    std::unique_ptr<rd_kafka_s, HandleDeleter> handle_;
    std::function<void(int, const char*, const char*)> log_;
    std::optional<Error> last_error_;
    bool closed_ = false;
    std::map<std::string, int> assigned_;  ///< table mode: partitions assigned per topic
};

/// Which partitions a table-mode reader has still to read to the ends assign_all gave. A
/// partition is read once a record at its end − 1 is polled, or once the consumer has passed
/// its end: a transactional writer's commit marker takes an offset of its own, and when it is
/// a partition's last no record is ever polled there.
///
///   poll() ─▶ after_poll(consumer, record or nothing) ─▶ … done()
class ReadToEnd {
public:
    /// `marks` from assign_all; partitions of the topics in `skip` are not waited for.
    explicit ReadToEnd(const Watermarks& marks, const std::set<std::string>& skip = {});

    /// After each poll of `consumer`: `message` is what it gave (nullptr: nothing). Asks the
    /// consumer how far it has passed the partitions still behind (no broker request) when the
    /// poll gave nothing, and at least every kCheckEvery while records keep coming from
    /// others.
    void after_poll(const Consumer& consumer, const Message* message);
    static constexpr std::chrono::milliseconds kCheckEvery{200};
    bool done() const { return remaining_.empty(); }
    std::size_t behind() const { return remaining_.size(); }
    /// The partitions still behind, for an error: "topic/partition (end N)", at most five.
    std::string describe() const;

private:
    void check(const Consumer& consumer);

    std::map<std::pair<std::string, std::int32_t>, std::int64_t> remaining_;  // → end offset
    std::chrono::steady_clock::time_point checked_ = std::chrono::steady_clock::now();
};

}  // namespace kafka_bridge
