#include "kafka_bridge/topic_plan.hpp"

#include <fmt/format.h>

namespace kafka_bridge {

std::string TopicChange::describe() const {
    switch (kind) {
        case Kind::create: {
            std::string out = "create " + topic + " (partitions " +
                              (spec.partitions > 0 ? std::to_string(spec.partitions) : "default") +
                              ", replication " +
                              (spec.replication > 0 ? std::to_string(spec.replication) : "default");
            for (const auto& [name, value] : spec.config) {
                out += ", " + name + " " + value;
            }
            return out + ")";
        }
        case Kind::add_partitions:
            return fmt::format("{}: partitions {} -> {}", topic, from, to);
        case Kind::set_config:
            return fmt::format("{}: {} {} -> {}", topic, key, from.empty() ? "(not set)" : from, to);
    }
    return topic;
}

TopicPlan plan_topics(const std::vector<TopicSpec>& wanted,
                      const std::map<std::string, ObservedTopic>& observed) {
    TopicPlan plan;
    std::vector<TopicChange> partitions;
    std::vector<TopicChange> configs;
    for (const auto& spec : wanted) {
        const auto found = observed.find(spec.name);
        if (found == observed.end() || !found->second.exists) {
            TopicChange create;
            create.kind = TopicChange::Kind::create;
            create.topic = spec.name;
            create.spec = spec;
            plan.changes.push_back(std::move(create));
            continue;
        }
        const ObservedTopic& have = found->second;
        const std::size_t before = partitions.size() + configs.size() + plan.problems.size();
        if (spec.partitions > 0 && spec.exact_partitions && have.partitions != spec.partitions) {
            plan.problems.push_back(fmt::format(
                "{}: {} partitions; it must have exactly {} (never changed by apply: create it "
                "again with {} after moving its users away)",
                spec.name, have.partitions, spec.partitions, spec.partitions));
        } else if (spec.partitions > 0 && have.partitions < spec.partitions) {
            TopicChange more;
            more.kind = TopicChange::Kind::add_partitions;
            more.topic = spec.name;
            more.from = std::to_string(have.partitions);
            more.to = std::to_string(spec.partitions);
            partitions.push_back(std::move(more));
        }
        if (spec.replication > 0 && have.replication < spec.replication) {
            plan.problems.push_back(fmt::format(
                "{}: replication {} is below {} (apply cannot raise it: reassign the partitions "
                "with kafka-reassign-partitions)",
                spec.name, have.replication, spec.replication));
        }
        for (const auto& [name, value] : spec.config) {
            const auto current = have.config.find(name);
            if (current != have.config.end() && current->second == value) {
                continue;
            }
            TopicChange set;
            set.kind = TopicChange::Kind::set_config;
            set.topic = spec.name;
            set.key = name;
            set.from = current != have.config.end() ? current->second : "";
            set.to = value;
            configs.push_back(std::move(set));
        }
        if (partitions.size() + configs.size() + plan.problems.size() == before) {
            plan.met.push_back(spec.name);
        }
    }
    for (auto& c : partitions) {
        plan.changes.push_back(std::move(c));
    }
    for (auto& c : configs) {
        plan.changes.push_back(std::move(c));
    }
    return plan;
}

}  // namespace kafka_bridge
