#include "gateway/app/kafka_readiness.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gateway/log/log.hpp"

namespace gateway::app {

using namespace std::chrono_literals;

DurabilityTarget durability_target(const config::Config& c, int brokers) {
    DurabilityTarget t;
    t.replication = c.topic_replication > 0 ? c.topic_replication : std::clamp(brokers, 1, 3);
    t.min_insync = c.topic_min_insync > 0 ? c.topic_min_insync : (t.replication >= 3 ? 2 : 1);
    return t;
}

std::vector<kafka_bridge::TopicSpec> required_topics(const config::Config& c,
                                                     DurabilityTarget target) {
    std::vector<kafka_bridge::TopicSpec> topics;
    auto add = [&](const std::string& name, int partitions,
                   std::map<std::string, std::string> settings) {
        settings["min.insync.replicas"] = std::to_string(target.min_insync);
        topics.push_back({name, partitions, target.replication, std::move(settings)});
    };
    for (const auto& name : c.topics.by_class) {
        add(name, -1, {});
    }
    add(c.topics.connections, -1, {});
    add(c.topics.dead_letter, -1, {});
    // Offsets number 1.6 transactions: one partition; records need not be kept, offsets are
    // never reused even after retention deletes them.
    add(c.topics.transaction_ids, 1, {{"retention.ms", "86400000"}});
    add(c.topics.commands, -1, {});
    add(c.topics.command_results, -1, {});
    // The last record per station (and per instance) is the table; every instance reads it
    // whole at start-up.
    add(c.topics.presence, -1, {{"cleanup.policy", "compact"}});
    // The station registry: the last record per identity is its entry.
    add(c.topics.stations, -1, {{"cleanup.policy", "compact"}});
    // The operator's tokens: the last record per token is its entry.
    add(c.topics.id_tokens, -1, {{"cleanup.policy", "compact"}});
    if (c.reply.ask != config::Config::Reply::Ask::never) {
        // Questions and answers matter for seconds; a day keeps them for audits and replays.
        add(c.topics.authorization_requests, -1, {{"retention.ms", "86400000"}});
        add(c.topics.authorization_decisions, -1, {{"retention.ms", "86400000"}});
    }
    // Routes serve duplicate detection for a day; every instance reads them at start-up.
    add(c.topics.command_routes, -1, {{"retention.ms", "86400000"}});
    return topics;
}

namespace {

/// Reads how durable each topic is and says so when it is weaker than `target`.
void report_durability(kafka_bridge::Producer& producer,
                       const std::vector<kafka_bridge::TopicSpec>& topics, DurabilityTarget target,
                       std::vector<TopicDurabilityReport>& out) {
    out.clear();
    std::vector<std::string> weak;
    for (const auto& topic : topics) {
        auto found = producer.topic_durability(topic.name, 10s);
        if (!found.ok()) {
            log::warn("cannot tell how durable topic {} is ({}); its replication is not checked",
                      topic.name, found.error().to_string());
            continue;
        }
        TopicDurabilityReport r{topic.name, found.value().replication,
                                found.value().min_insync_replicas, false};
        r.below_target = r.replication < target.replication || r.min_insync < target.min_insync;
        if (r.below_target) {
            weak.push_back(fmt::format("{} (replicas {}, min.insync.replicas {})", r.topic,
                                       r.replication, r.min_insync));
        }
        out.push_back(std::move(r));
    }
    if (!weak.empty()) {
        log::error("{} topic(s) keep records less durably than replication {} / "
                   "min.insync.replicas {}: {}; an acknowledged record there can be lost with one "
                   "broker's disk (raise them with kafka-topics / kafka-configs; metric "
                   "ocpp_kafka_topics_below_durability)",
                   weak.size(), target.replication, target.min_insync, fmt::join(weak, ", "));
    }
    if (target.replication < 2 || target.min_insync < 2) {
        log::warn("Kafka topics have replication {} and min.insync.replicas {}: an acknowledged "
                  "record survives no broker failure; production needs at least three brokers "
                  "(replication 3, min.insync.replicas 2)",
                  target.replication, target.min_insync);
    }
}

}  // namespace

Readiness wait_for_kafka(const config::Config& config, kafka_bridge::ProducerSlot& producers,
                         StopSignal& stop, std::string& problem,
                         std::vector<TopicDurabilityReport>& durability) {
    std::vector<kafka_bridge::TopicSpec> topics;
    DurabilityTarget target;
    while (true) {
        auto producer = producers.current();
        auto brokers = producer->broker_count(5s);
        if (brokers.ok()) {
            target = durability_target(config, brokers.value());
            topics = required_topics(config, target);
            auto ready = config.create_topics ? producer->ensure_topics(topics, 5s)
                                              : producer->check_cluster(5s);
            if (ready.ok()) {
                break;
            }
            log::warn("Kafka not ready ({}); retrying", ready.error().to_string());
        } else {
            log::warn("Kafka not ready ({}); retrying", brokers.error().to_string());
        }
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
    report_durability(*producers.current(), topics, target, durability);
    return Readiness::ready;
}

}  // namespace gateway::app
