#include <catch2/catch.hpp>

#include "kafka_bridge/topic_plan.hpp"

using kafka_bridge::ObservedTopic;
using kafka_bridge::plan_topics;
using kafka_bridge::TopicChange;
using kafka_bridge::TopicSpec;
using Kind = TopicChange::Kind;

namespace {

TopicSpec spec(std::string name, int partitions, std::map<std::string, std::string> config = {}) {
    TopicSpec s;
    s.name = std::move(name);
    s.partitions = partitions;
    s.replication = 3;
    s.config = std::move(config);
    return s;
}

ObservedTopic have(int partitions, int replication, std::map<std::string, std::string> config = {}) {
    ObservedTopic o;
    o.exists = true;
    o.partitions = partitions;
    o.replication = replication;
    o.config = std::move(config);
    return o;
}

}  // namespace

TEST_CASE("a cluster that meets every spec needs nothing", "[kafka][contract]") {
    const auto plan = plan_topics({spec("a", 6, {{"retention.ms", "1000"}}), spec("b", -1)},
                                  {{"a", have(6, 3, {{"retention.ms", "1000"}, {"segment.ms", "5"}})},
                                   {"b", have(1, 3)}});
    CHECK(plan.meets());
    CHECK(plan.met == std::vector<std::string>{"a", "b"});
}

TEST_CASE("missing topics are created, partitions raised, configs set, in that order", "[kafka][contract]") {
    const auto plan = plan_topics(
        {spec("configs", -1, {{"retention.ms", "1000"}, {"cleanup.policy", "delete"}}),
         spec("more", 12), spec("missing", 3, {{"retention.ms", "5"}})},
        {{"configs", have(3, 3, {{"retention.ms", "604800000"}})},
         {"more", have(6, 3)},
         {"missing", ObservedTopic{}}});
    REQUIRE(plan.changes.size() == 4);
    CHECK(plan.changes[0].kind == Kind::create);
    CHECK(plan.changes[0].topic == "missing");
    CHECK(plan.changes[0].spec.config.at("retention.ms") == "5");
    CHECK(plan.changes[1].kind == Kind::add_partitions);
    CHECK(plan.changes[1].describe() == "more: partitions 6 -> 12");
    CHECK(plan.changes[2].kind == Kind::set_config);
    CHECK(plan.changes[2].describe() == "configs: cleanup.policy (not set) -> delete");
    CHECK(plan.changes[3].describe() == "configs: retention.ms 604800000 -> 1000");
    CHECK(plan.problems.empty());
    CHECK(plan.met.empty());
    CHECK_FALSE(plan.meets());
}

TEST_CASE("partitions are never lowered, and an exact count is never changed", "[kafka][contract]") {
    auto ids = spec("ids", 1);
    ids.exact_partitions = true;
    // More partitions than the spec: fine, counts only grow.
    CHECK(plan_topics({spec("wide", 3)}, {{"wide", have(24, 3)}}).meets());
    const auto plan = plan_topics({ids}, {{"ids", have(3, 3)}});
    CHECK(plan.changes.empty());
    REQUIRE(plan.problems.size() == 1);
    CHECK_THAT(plan.problems[0], Catch::Contains("ids: 3 partitions; it must have exactly 1"));
    CHECK(plan_topics({ids}, {{"ids", have(1, 3)}}).meets());
}

TEST_CASE("too few replicas is a difference apply cannot fix", "[kafka][contract]") {
    const auto plan = plan_topics({spec("thin", -1, {{"min.insync.replicas", "2"}})},
                                  {{"thin", have(3, 1, {{"min.insync.replicas", "1"}})}});
    REQUIRE(plan.problems.size() == 1);
    CHECK_THAT(plan.problems[0], Catch::Contains("replication 1 is below 3"));
    CHECK_THAT(plan.problems[0], Catch::Contains("kafka-reassign-partitions"));
    REQUIRE(plan.changes.size() == 1);
    CHECK(plan.changes[0].describe() == "thin: min.insync.replicas 1 -> 2");
}
