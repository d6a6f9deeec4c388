#include "gateway/app/kafka_readiness.hpp"

#include "gateway/log/log.hpp"

namespace gateway::app {

using namespace std::chrono_literals;

std::vector<kafka_bridge::TopicSpec> required_topics(const config::Config& c) {
    std::vector<kafka_bridge::TopicSpec> topics;
    for (const auto& name : c.topics.by_class) {
        topics.push_back({name, -1, -1, {}});
    }
    topics.push_back({c.topics.connections, -1, -1, {}});
    topics.push_back({c.topics.dead_letter, -1, -1, {}});
    // Offsets number 1.6 transactions: one partition; records need not be kept, offsets are
    // never reused even after retention deletes them.
    topics.push_back({c.topics.transaction_ids, 1, -1, {{"retention.ms", "86400000"}}});
    topics.push_back({c.topics.commands, -1, -1, {}});
    topics.push_back({c.topics.command_results, -1, -1, {}});
    // The last record per station (and per instance) is the table; every instance reads it
    // whole at start-up.
    topics.push_back({c.topics.presence, -1, -1, {{"cleanup.policy", "compact"}}});
    // The station registry: the last record per identity is its entry.
    topics.push_back({c.topics.stations, -1, -1, {{"cleanup.policy", "compact"}}});
    // Routes serve duplicate detection for a day; every instance reads them at start-up.
    topics.push_back({c.topics.command_routes, -1, -1, {{"retention.ms", "86400000"}}});
    return topics;
}

Readiness wait_for_kafka(const config::Config& config, kafka_bridge::ProducerSlot& producers,
                         StopSignal& stop, std::string& problem) {
    const auto topics = required_topics(config);
    while (true) {
        auto producer = producers.current();
        auto ready = config.create_topics ? producer->ensure_topics(topics, 5s)
                                          : producer->check_cluster(5s);
        if (ready.ok()) {
            break;
        }
        log::warn("Kafka not ready ({}); retrying", ready.error().to_string());
        if (stop.wait_for(2s)) {
            return Readiness::stopped;
        }
    }
    // Every partition must have opened its log before the first record goes to it (see
    // Producer::wait_partitions_ready); this also fetches the metadata the first records need.
    for (const auto& topic : topics) {
        if (auto ready = producers.current()->wait_partitions_ready(topic.name, 60s); !ready.ok()) {
            problem = "topic " + topic.name + ": " + ready.error().to_string();
            return Readiness::unusable;
        }
    }
    const auto partitions = producers.current()->partition_count(config.topics.transaction_ids, 10s);
    if (partitions.ok() && partitions.value() != 1) {
        problem = "topic " + config.topics.transaction_ids + " has " +
                  std::to_string(partitions.value()) +
                  " partitions; it must have exactly one (it numbers OCPP 1.6 transactions)";
        return Readiness::unusable;
    }
    return Readiness::ready;
}

}  // namespace gateway::app
