#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka_bridge/error.hpp"
#include "ocpp/result.hpp"

struct rd_kafka_s;

namespace kafka_bridge {

using ocpp::Ok;
using ocpp::Result;

struct ProducerConfig {
    /// bootstrap.servers
    std::string brokers = "127.0.0.1:9092";
    /// How long librdkafka keeps trying one record before reporting it failed. Must stay below
    /// the stations' own message timeout (commonly 30 s and more) so a station never gives up
    /// on a message that could still be acknowledged.
    std::chrono::milliseconds delivery_timeout{20000};
    /// Time a record may wait to be batched: low, since stations wait for the ack.
    std::chrono::milliseconds linger{2};
    /// Adaptive batching instead of `linger`: no linger, so a record goes out at once unless
    /// its partition already has five records in flight or the connection five requests, and
    /// the records arriving meanwhile travel together in the next request (sub-millisecond at
    /// low rates, more requests for the broker: docs/benchmarks.md "Adaptive batching with five
    /// in flight").
    bool adaptive_batching = false;
    /// Records held locally before produce() reports backpressure: bounds memory when the
    /// cluster is slow or away (about 100 MB at 1 KB records; at most 256 MiB of them,
    /// queue.buffering.max.kbytes, whatever their size).
    int max_queued_messages = 100000;
    /// batch.size: the most bytes of records sent together to one partition (a larger record
    /// goes alone); 0 leaves librdkafka's 1,000,000. The broker holds a whole batch to the
    /// topic's max.message.bytes and refuses every record of a batch above it, so a batch
    /// must not outgrow what the topics take (the gateway gives its frame limit).
    std::size_t batch_bytes = 0;
    /// Any other librdkafka property (security.protocol, sasl.*, ssl.*, ...). Settings that
    /// would break idempotence are refused at construction.
    std::map<std::string, std::string> properties;
    /// Receives librdkafka's log lines (syslog level 0..7, facility, message) instead of
    /// stderr. Called from librdkafka's threads; must be thread-safe and must not throw.
    std::function<void(int, const char*, const char*)> log;
};

/// A record to publish.
struct Record {
    std::string topic;
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// The outcome of one record, reported once.
struct Delivery {
    std::optional<Error> error;  ///< empty when the cluster acknowledged the record
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    /// A failed record that may be on Kafka all the same (its request's outcome is unknown).
    bool possibly_persisted = false;

    bool ok() const { return !error.has_value(); }
};

/// A topic the gateway needs.
struct TopicSpec {
    std::string name;
    int partitions = -1;   ///< -1: the broker's default
    int replication = -1;  ///< -1: the broker's default
    std::map<std::string, std::string> config;
    /// The partition count must be exactly `partitions` (a topic whose offsets number
    /// something); otherwise more than `partitions` is fine.
    bool exact_partitions = false;
};

/// A topic as the cluster has it (Producer::observe_topics).
struct ObservedTopic {
    bool exists = false;
    int partitions = 0;
    int replication = 0;  ///< fewest replicas of any partition
    /// Every config the cluster reports for the topic, broker defaults included.
    std::map<std::string, std::string> config;
};

/// How durably a topic keeps an acknowledged record (see Producer::topic_durability).
struct TopicDurability {
    int replication = 0;         ///< fewest replicas of any partition
    int min_insync_replicas = 0;
};

/// What the cluster says about one topic at the moment it was asked (Producer::describe_topics).
struct TopicState {
    bool exists = false;
    /// The topic's id (base64): a topic deleted and created again under the same name gets a
    /// new one. Empty where the library or cluster gives none.
    std::string id;
    int partitions = 0;
};

/// Called once per accepted record, on the thread that calls poll(). Must not throw.
using DeliveryCallback = std::function<void(const Delivery&)>;

/// An idempotent Kafka producer (acks=all, enable.idempotence=true, at most 5 requests in
/// flight), owning its librdkafka handle.
///
///   produce(record, cb) ─▶ librdkafka queue ─▶ broker ─▶ ack / failure
///                                                  │
///   poll() ◀── delivery report ◀───────────────────┘   cb(Delivery) runs here, exactly once
///
/// produce() is thread-safe; poll() is meant for one dedicated thread.
class Producer {
public:
    /// Builds a producer. Errors: a property librdkafka rejects, or one that would break
    /// idempotence (acks other than all/-1, enable.idempotence=false,
    /// max.in.flight.requests.per.connection > 5 unless librdkafka carries the project's
    /// patch 0004).
    static Result<std::unique_ptr<Producer>, Error> create(const ProducerConfig& config);
    /// The checks create() makes of `config` while it builds librdkafka's configuration
    /// (every property known to librdkafka with a valid value, idempotence kept), without
    /// creating a producer; what librdkafka checks only when a producer starts (SSL files,
    /// SASL set-up, combinations of settings) is not among them.
    static Result<Ok, Error> check_settings(const ProducerConfig& config);
    ~Producer();
    Producer(const Producer&) = delete;
    Producer& operator=(const Producer&) = delete;

    /// Queues `record`; `on_delivery` is called from poll() once it is acknowledged or has
    /// failed. On an error here the record was not queued and `on_delivery` is never called.
    /// Errors: backpressure (queue full: poll and retry later), fatal (recreate the producer),
    /// message too large, unknown topic or partition.
    Result<Ok, Error> produce(const Record& record, DeliveryCallback on_delivery);

    /// Serves delivery reports for up to `timeout`. Returns how many were served.
    int poll(std::chrono::milliseconds timeout);

    /// Has librdkafka write 8 bytes (an eventfd increment) to `fd` whenever a delivery report
    /// or another event arrives on its empty queue, so an event loop can wait on `fd` and
    /// serve them with poll(0) instead of a thread blocked in poll(). -1 turns it off. Events
    /// already queued raise no signal: the caller polls once after turning it on.
    void set_wakeup_fd(int fd);

    /// Remembers a fatal error librdkafka holds even when its error event has not been
    /// served yet (fatal_error() then reports it). Returns whether there is one.
    bool notice_fatal_error();

    /// Waits until every queued record is delivered or failed, up to `timeout`. Error:
    /// timed out, with records still queued.
    Result<Ok, Error> flush(std::chrono::milliseconds timeout);

    /// The fatal error that ended this producer, if one occurred. After it, every produce()
    /// fails and queued records are reported failed; the owner must recreate the producer.
    std::optional<Error> fatal_error() const;

    /// Records queued or in flight, not yet reported.
    std::size_t queue_depth() const;
    /// The librdkafka property `name` as this producer runs with it, if it has one.
    std::optional<std::string> property(const std::string& name) const;

    /// The most recent error librdkafka reported for the cluster connection (for /readyz).
    std::optional<Error> last_transport_error() const;

    /// Creates the topics that do not exist yet. Errors: the cluster is unreachable or refuses
    /// (authorization, policy) within `timeout`.
    Result<Ok, Error> ensure_topics(const std::vector<TopicSpec>& topics,
                                    std::chrono::milliseconds timeout);

    /// Number of partitions of `topic`. Errors: unreachable cluster, unknown topic.
    Result<int, Error> partition_count(const std::string& topic,
                                       std::chrono::milliseconds timeout);

    /// Waits until every partition of `topic` answers for its offsets, i.e. its leader has
    /// opened the log. Producing to a partition created a moment ago can otherwise lose the
    /// first batch on brokers without the KAFKA-15591 fix: the first request is refused
    /// (NOT_LEADER_OR_FOLLOWER), a later one is appended, and the retry of the first can never
    /// fill the sequence gap. Errors: the topic is unknown or a partition stays unready.
    Result<Ok, Error> wait_partitions_ready(const std::string& topic,
                                            std::chrono::milliseconds timeout);

    /// Asks the cluster for its metadata: succeeds while a broker answers within `timeout`.
    /// With `topic`, only that topic's metadata is asked for (a small request and answer,
    /// for checks repeated every few seconds); otherwise every topic this producer knows.
    Result<Ok, Error> check_cluster(std::chrono::milliseconds timeout,
                                    const std::string& topic = {});

    /// Number of brokers the cluster's metadata lists. Errors: unreachable cluster.
    Result<int, Error> broker_count(std::chrono::milliseconds timeout);

    /// How durably `topic` keeps a record: the fewest replicas of any of its partitions and
    /// its `min.insync.replicas` (the topic's own or the broker default it inherits).
    /// Errors: unreachable cluster, unknown topic, configs not readable (authorization).
    Result<TopicDurability, Error> topic_durability(const std::string& topic,
                                                    std::chrono::milliseconds timeout);

    /// The current state of each of `topics`, in one request; never creates a topic. A topic
    /// whose state the cluster did not give (an error other than "unknown topic", e.g. not
    /// authorized) is left out. Errors: unreachable cluster, no answer within `timeout`.
    Result<std::map<std::string, TopicState>, Error> describe_topics(
        const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

    /// Partitions, replicas and configs of each of `topics` that exists (one metadata and one
    /// DescribeConfigs request); never creates a topic. Errors: unreachable cluster, no answer
    /// within `timeout`, configs not readable (authorization).
    Result<std::map<std::string, ObservedTopic>, Error> observe_topics(
        const std::vector<std::string>& topics, std::chrono::milliseconds timeout);

    /// Raises `topic` to `total` partitions. Errors: as the cluster refuses (fewer than now,
    /// authorization, policy), unreachable cluster.
    Result<Ok, Error> add_partitions(const std::string& topic, int total,
                                     std::chrono::milliseconds timeout);

    /// Sets each of `settings` on `topic` (IncrementalAlterConfigs SET: other configs stay as
    /// they are). Errors: as the cluster refuses, unreachable cluster, or a librdkafka
    /// without IncrementalAlterConfigs (before 2.2).
    Result<Ok, Error> set_topic_configs(const std::string& topic,
                                        const std::map<std::string, std::string>& settings,
                                        std::chrono::milliseconds timeout);

    /// Fault tests only: makes librdkafka raise a fatal idempotence error on this producer now,
    /// as a broker could (the replacement path then runs for real).
    Result<Ok, Error> inject_fatal_error(const std::string& reason);

    /// The librdkafka handle, for diagnostics and tests only.
    rd_kafka_s* native_handle() const { return handle_.get(); }

private:
    struct HandleDeleter {
        void operator()(rd_kafka_s* handle) const;
    };

    Producer() = default;
    static void on_delivery_report(rd_kafka_s* rk, const void* message, void* opaque);
    /// The fatal error librdkafka holds, remembered (also when the error callback has not
    /// run yet).
    Error record_fatal(rd_kafka_s* rk);
    static void on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque);

    std::unique_ptr<rd_kafka_s, HandleDeleter> handle_;
    std::function<void(int, const char*, const char*)> log_;
    std::atomic<bool> fatal_{false};
    mutable std::mutex mutex_;
    std::optional<Error> fatal_error_;
    std::optional<Error> transport_error_;
};

/// The librdkafka version this process runs with ("2.8.0"), for --version and bug reports.
std::string librdkafka_version();

/// Whether the librdkafka built against carries scripts/librdkafka-patches/0001: records whose
/// write may have landed are failed, not written again, when the producer's epoch is bumped.
bool librdkafka_fails_unknown_outcomes_on_epoch_bump();

}  // namespace kafka_bridge
