#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gateway/app/stop_signal.hpp"
#include "gateway/config/config.hpp"
#include "kafka_bridge/producer_slot.hpp"

namespace gateway::app {

/// The replication factor and min.insync.replicas the gateway creates its topics with and
/// holds them to.
struct DurabilityTarget {
    int replication = 1;
    int min_insync = 1;
};

/// The target for a cluster of `brokers` brokers: the configured values, or (0 = automatic)
/// 3 / 2 on three or more brokers, otherwise every broker / 1.
DurabilityTarget durability_target(const config::Config& config, int brokers);

/// One topic as found after start-up, against the target.
struct TopicDurabilityReport {
    std::string topic;
    int replication = 0;
    int min_insync = 0;
    bool below_target = false;
};

/// Every topic the gateway writes or reads on the cluster of `config.kafka` (with tenants:
/// those of every tenant without a cluster of its own), with the settings it creates them with.
std::vector<kafka_bridge::TopicSpec> required_topics(const config::Config& config,
                                                     DurabilityTarget target = {});

/// Why one of `topics` could take no write with acks=all (more in sync required than it has
/// replicas), if one could not.
std::optional<std::string> unwritable(const std::vector<kafka_bridge::TopicSpec>& topics);

/// A Kafka cluster the gateway uses and what it uses it for: `config.kafka` its address and
/// required_topics(config) its topics.
struct Cluster {
    std::string tenant;  ///< the tenant with a cluster of its own; empty: the gateway's
    config::Config config;
};
/// The gateway's cluster first, then one per tenant with a cluster of its own.
std::vector<Cluster> clusters(const config::Config& config);

/// Whether a cluster counts as reachable, from checks a few seconds apart: one check that
/// fails is not enough to leave the load balancer (a broker just back, busy with the
/// producer's resends, can miss one check's deadline, and a producer replaced after a fatal
/// error looks failed for a moment); kFailuresInARow in a row are. One check that passes is
/// enough to come back.
class Reachability {
public:
    static constexpr int kFailuresInARow = 2;
    /// Records one check's outcome; returns whether the cluster counts as reachable now.
    bool observe(bool passed);
    bool reachable() const { return reachable_; }

private:
    bool reachable_ = true;
    int failures_ = 0;
};

/// What waiting for Kafka ended with.
enum class Readiness { ready, stopped, unusable };

/// Waits until Kafka answers and the topics exist (created when `config.create_topics`),
/// retrying every 2 s until `stop`; then checks that every partition has opened its log and
/// that the transaction-id topic has exactly one partition, and reads how durable each topic
/// is (`durability`; a topic weaker than the target is logged as an error, a cluster that can
/// only give one copy as a warning). `unusable` comes with the problem in words in `problem`.
Readiness wait_for_kafka(const config::Config& config, kafka_bridge::ProducerSlot& producers,
                         StopSignal& stop, std::string& problem,
                         std::vector<TopicDurabilityReport>& durability);

/// librdkafka's log lines in the gateway's log (syslog levels mapped to the gateway's).
void log_kafka(int level, const char* facility, const char* message);

}  // namespace gateway::app
