#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kafka_bridge/producer.hpp"

namespace kafka_bridge {

/// What has to change for the cluster to meet the wanted topics, and what cannot be changed
/// by adding: the plan `ocpp-gateway topics plan|apply|check` and start-up share. Pure:
/// it reads the wanted specs and the observed state, and asks nothing of a cluster.
struct TopicChange {
    enum class Kind : std::uint8_t {
        create,          ///< the topic does not exist: create it as `spec` says
        add_partitions,  ///< `from` partitions, `to` wanted (never fewer)
        set_config,      ///< config `key` is `from` (empty: not set), `to` wanted
    };
    Kind kind = Kind::create;
    std::string topic;
    std::string key;
    std::string from;
    std::string to;
    TopicSpec spec;  ///< create only

    /// One line for people: "create ocpp.status (partitions 3, ...)", "ocpp.status:
    /// retention.ms 604800000 -> 86400000".
    std::string describe() const;
};

struct TopicPlan {
    /// What `apply` does, in order: creations, then partitions, then configs.
    std::vector<TopicChange> changes;
    /// Differences `apply` must not or cannot fix (fewer replicas than wanted, a single-
    /// partition topic with more), in words with what to do instead.
    std::vector<std::string> problems;
    /// Topics that already meet their spec.
    std::vector<std::string> met;

    bool meets() const { return changes.empty() && problems.empty(); }
};

/// Compares `wanted` with `observed` (a topic missing from `observed` counts as not existing).
/// Partitions are raised, never lowered (more than wanted is fine: the count only grows);
/// a spec with `exact_partitions` that the cluster does not match is a problem, never a
/// change. A replication factor below the spec is a problem (only a reassignment fixes it).
/// Every config of the spec must have the spec's value.
TopicPlan plan_topics(const std::vector<TopicSpec>& wanted,
                      const std::map<std::string, ObservedTopic>& observed);

}  // namespace kafka_bridge
