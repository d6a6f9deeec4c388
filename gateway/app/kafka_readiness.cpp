#include "gateway/app/kafka_readiness.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gateway/log/log.hpp"
#include "kafka_bridge/topic_plan.hpp"

namespace gateway::app {

using namespace std::chrono_literals;

DurabilityTarget durability_target(const config::Config& c, int brokers) {
    DurabilityTarget t;
    t.replication = c.topic_replication > 0 ? c.topic_replication : std::clamp(brokers, 1, 3);
    t.min_insync = c.topic_min_insync > 0 ? c.topic_min_insync : (t.replication >= 3 ? 2 : 1);
    return t;
}

bool Reachability::observe(bool passed) {
    failures_ = passed ? 0 : failures_ + 1;
    if (passed) {
        reachable_ = true;
    } else if (failures_ >= kFailuresInARow) {
        reachable_ = false;
    }
    return reachable_;
}

namespace {

/// Adds the topics of `c` (only that of `only_role` when given) to `topics`, each once.
void add_topics(const config::Config& c, DurabilityTarget target, std::vector<kafka_bridge::TopicSpec>& topics,
                const char* only_role = nullptr) {
    const bool asking = c.reply.ask != config::Config::Reply::Ask::never;
    for (const auto& role_and_topic : config::topic_roles(c)) {
        const std::string& role = role_and_topic.first;
        const std::string& name = role_and_topic.second;
        if (!asking && (role == "authorization_requests" || role == "authorization_decisions")) {
            continue;  // created only when ask mode is on
        }
        if (role == "violations" && c.tolerance_report_interval.count() == 0) {
            continue;  // never written
        }
        if (only_role != nullptr && role != only_role) {
            continue;
        }
        // Two roles on one topic (all classes on "ocpp.events", say): the first role's
        // contract, event classes first, is the topic's.
        if (std::any_of(topics.begin(), topics.end(), [&](const auto& t) { return t.name == name; })) {
            continue;
        }
        const auto found = c.contract.find(role);
        const config::TopicContract contract =
            found != c.contract.end() ? found->second : config::TopicContract{};
        kafka_bridge::TopicSpec spec;
        spec.name = name;
        spec.partitions = contract.partitions > 0 ? contract.partitions : -1;
        spec.exact_partitions = role == "transaction_ids";
        spec.replication = contract.replication > 0 ? contract.replication : target.replication;
        // Not given for the topic, it is the target's, but never more than the topic's own
        // replicas: a contract giving it one replica would otherwise get the target's two in
        // sync, and no write could ever succeed.
        const int min_insync = contract.min_insync > 0 ? contract.min_insync
                                                       : std::min(target.min_insync, spec.replication);
        spec.config["min.insync.replicas"] = std::to_string(min_insync);
        if (contract.retention_ms) {
            spec.config["retention.ms"] = std::to_string(*contract.retention_ms);
        }
        if (contract.retention_bytes) {
            spec.config["retention.bytes"] = std::to_string(*contract.retention_bytes);
        }
        if (!contract.cleanup_policy.empty()) {
            spec.config["cleanup.policy"] = contract.cleanup_policy;
        }
        topics.push_back(std::move(spec));
    }
}

}  // namespace

std::vector<kafka_bridge::TopicSpec> required_topics(const config::Config& c,
                                                     DurabilityTarget target) {
    std::vector<kafka_bridge::TopicSpec> topics;
    if (c.tenants.empty()) {
        add_topics(c, target, topics);
        return topics;
    }
    // The gateway's own security topic takes the events no tenant can be named for.
    add_topics(c, target, topics, "security");
    for (const auto& tenant : c.tenants) {
        if (!config::has_own_cluster(c, tenant)) {
            add_topics(config::tenant_config(c, tenant), target, topics);
        }
    }
    return topics;
}

std::optional<std::string> unwritable(const std::vector<kafka_bridge::TopicSpec>& topics) {
    for (const auto& t : topics) {
        const auto it = t.config.find("min.insync.replicas");
        if (it != t.config.end() && std::stoi(it->second) > t.replication) {
            return fmt::format("topic {} would have min.insync.replicas {} and {} replica(s): no write with "
                               "acks=all could ever succeed (set its contract's replication_factor or "
                               "min_insync_replicas, or kafka.min_insync_replicas)",
                               t.name, it->second, t.replication);
        }
    }
    return std::nullopt;
}

std::vector<Cluster> clusters(const config::Config& config) {
    std::vector<Cluster> out{Cluster{"", config}};
    for (const auto& tenant : config.tenants) {
        if (config::has_own_cluster(config, tenant)) {
            out.push_back(Cluster{tenant.name, config::tenant_config(config, tenant)});
        }
    }
    return out;
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
        const auto wanted_insync = topic.config.find("min.insync.replicas");
        r.below_target = r.replication < topic.replication ||
                         (wanted_insync != topic.config.end() &&
                          r.min_insync < std::atoi(wanted_insync->second.c_str()));
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

/// Says which topics take smaller records than a station message may be: a message near the
/// limit is read, then refused as too large for Kafka (the producer's own limit is checked
/// with the configuration, config::check_record_room). A record holds more than the message
/// (the envelope; a repaired frame's original too), so a topic just above the limit can still
/// refuse one: this names only the certain cases.
void report_record_room(const config::Config& config,
                        const std::map<std::string, kafka_bridge::ObservedTopic>& observed) {
    const auto limit = static_cast<long long>(config.limits.max_message_bytes);
    // librdkafka's batches: at most batch.size (the operator's replaces the gateway's) and at
    // most message.max.bytes (1,000,000 by default).
    long long batch = static_cast<long long>(config.kafka.batch_bytes);
    if (const auto it = config.kafka.properties.find("batch.size"); it != config.kafka.properties.end()) {
        batch = std::atoll(it->second.c_str());
    }
    long long message_max = 1000000;
    if (const auto it = config.kafka.properties.find("message.max.bytes"); it != config.kafka.properties.end()) {
        message_max = std::atoll(it->second.c_str());
    }
    batch = std::min(batch > 0 ? batch : 1000000, message_max);
    std::vector<std::string> small;
    std::vector<std::string> below_batch;
    for (const auto& [name, topic] : observed) {
        const auto room = topic.config.find("max.message.bytes");
        if (!topic.exists || room == topic.config.end()) {
            continue;
        }
        if (const long long bytes = std::atoll(room->second.c_str()); bytes > 0 && bytes < limit) {
            small.push_back(fmt::format("{} ({})", name, bytes));
        } else if (bytes > 0 && bytes < batch) {
            below_batch.push_back(fmt::format("{} ({})", name, bytes));
        }
    }
    if (!below_batch.empty()) {
        log::warn("{} topic(s) take batches smaller than the producer's batches ({} bytes: batch.size, at most message.max.bytes), by their "
                  "max.message.bytes: {}; under load a batch of small records can outgrow that and "
                  "be refused whole, every station answered InternalError (set kafka.properties "
                  "batch.size below the smallest, or leave it to the gateway: limits.max_message_bytes)",
                  below_batch.size(), batch, fmt::join(below_batch, ", "));
    }
    if (!small.empty()) {
        log::warn("{} topic(s) take records smaller than limits.max_message_bytes ({}), by their "
                  "max.message.bytes: {}; a station message near the limit is read, then "
                  "answered InternalError \"too large for Kafka\" and not stored (raise the "
                  "topics' max.message.bytes with kafka-configs above the limit with room for "
                  "the record's envelope, or lower the limit)",
                  small.size(), limit, fmt::join(small, ", "));
    }
}

/// Logs how the topics differ from the contract (what `ocpp-gateway topics apply` would
/// change); false, with the differences in `problem`, when the configuration says to refuse.
bool compare_with_contract(const config::Config& config, kafka_bridge::Producer& producer,
                           const std::vector<kafka_bridge::TopicSpec>& topics,
                           std::string& problem) {
    const bool refuse = config.topic_drift == config::Config::Drift::refuse;
    std::vector<std::string> names;
    for (const auto& t : topics) {
        names.push_back(t.name);
    }
    auto observed = producer.observe_topics(names, 10s);
    if (!observed.ok()) {
        if (refuse) {
            problem = "cannot compare the topics with the contract (kafka.topic_drift: refuse): " +
                      observed.error().to_string();
            return false;
        }
        log::warn("cannot compare the topics with the contract ({}); not checked",
                  observed.error().to_string());
        return true;
    }
    report_record_room(config, observed.value());
    const auto plan = kafka_bridge::plan_topics(topics, observed.value());
    if (plan.meets()) {
        return true;
    }
    std::vector<std::string> differences;
    for (const auto& change : plan.changes) {
        differences.push_back(change.describe());
    }
    differences.insert(differences.end(), plan.problems.begin(), plan.problems.end());
    if (refuse) {
        problem = fmt::format("{} topic difference(s) from the contract (kafka.topic_drift: "
                              "refuse; `ocpp-gateway topics plan` lists them, `topics apply` "
                              "fixes what it can): {}",
                              differences.size(), fmt::join(differences, "; "));
        return false;
    }
    log::warn("{} topic difference(s) from the contract; `ocpp-gateway topics apply` fixes what "
              "it can: {}",
              differences.size(), fmt::join(differences, "; "));
    return true;
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
            if (auto bad = unwritable(topics)) {
                problem = *bad;
                return Readiness::unusable;
            }
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
    // A partition without a leader is a cluster still recovering (brokers back one at a time
    // after a power cut): waited for like an unreachable cluster, not a reason to give up
    // with the exit status of a configuration refused.
    for (const auto& topic : topics) {
        for (;;) {
            auto ready = producers.current()->wait_partitions_ready(topic.name, 60s);
            if (ready.ok()) {
                break;
            }
            log::warn("Kafka not ready (topic {}: {}); retrying", topic.name, ready.error().to_string());
            if (stop.wait_for(2s)) {
                return Readiness::stopped;
            }
        }
    }
    for (const auto& topic : topics) {
        if (!topic.exact_partitions) {
            continue;
        }
        const auto partitions = producers.current()->partition_count(topic.name, 10s);
        if (partitions.ok() && partitions.value() != 1) {
            problem = "topic " + topic.name + " has " + std::to_string(partitions.value()) +
                      " partitions; it must have exactly one (it numbers OCPP 1.6 transactions)";
            return Readiness::unusable;
        }
    }
    if (!compare_with_contract(config, *producers.current(), topics, problem)) {
        return Readiness::unusable;
    }
    report_durability(*producers.current(), topics, target, durability);
    return Readiness::ready;
}

void log_kafka(int level, const char* facility, const char* message) {
    const auto l = level <= 3   ? log::Level::error
                   : level <= 4 ? log::Level::warn
                   : level <= 6 ? log::Level::info
                                : log::Level::debug;
    if (log::enabled(l)) {
        log::write(l, fmt::format("kafka {}: {}", facility, message));
    }
}

}  // namespace gateway::app
