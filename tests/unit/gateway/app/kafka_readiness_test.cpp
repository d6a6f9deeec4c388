#include <catch2/catch.hpp>

#include <algorithm>

#include "gateway/app/kafka_readiness.hpp"

using gateway::app::durability_target;
using gateway::app::required_topics;

TEST_CASE("topics are held to three replicas and two in sync on a cluster of three or more",
          "[app][durability]") {
    gateway::config::Config c;
    for (const int brokers : {3, 5, 12}) {
        const auto t = durability_target(c, brokers);
        CHECK(t.replication == 3);
        CHECK(t.min_insync == 2);
    }
}

TEST_CASE("a smaller cluster gives what it has: every broker, one in sync",
          "[app][durability]") {
    gateway::config::Config c;
    CHECK(durability_target(c, 1).replication == 1);
    CHECK(durability_target(c, 1).min_insync == 1);
    CHECK(durability_target(c, 2).replication == 2);
    CHECK(durability_target(c, 2).min_insync == 1);
    // No metadata listing a broker still never asks for zero copies.
    CHECK(durability_target(c, 0).replication == 1);
}

TEST_CASE("configured durability wins over the cluster size", "[app][durability]") {
    gateway::config::Config c;
    c.topic_replication = 3;
    // Too few brokers: creating the topics fails until the cluster grows, rather than
    // quietly creating weaker ones.
    CHECK(durability_target(c, 1).replication == 3);
    CHECK(durability_target(c, 1).min_insync == 2);
    c.topic_replication = 5;
    c.topic_min_insync = 3;
    CHECK(durability_target(c, 9).replication == 5);
    CHECK(durability_target(c, 9).min_insync == 3);
}

TEST_CASE("every topic is created with the target's replication and min.insync.replicas",
          "[app][durability]") {
    gateway::config::Config c;
    const auto topics = required_topics(c, {3, 2});
    REQUIRE(topics.size() == c.topics.by_class.size() + 10);  // ask mode off: no ask topics
    c.tolerance_report_interval = std::chrono::seconds(0);
    CHECK(required_topics(c, {3, 2}).size() == topics.size() - 1);  // no refusal reports: no topic
    for (const auto& t : topics) {
        INFO(t.name);
        CHECK(t.replication == 3);
        CHECK(t.config.at("min.insync.replicas") == "2");
    }
    // The settings of their own stay next to it.
    const auto ids = std::find_if(topics.begin(), topics.end(), [&](const auto& t) {
        return t.name == c.topics.transaction_ids;
    });
    REQUIRE(ids != topics.end());
    CHECK(ids->partitions == 1);
    CHECK(ids->config.at("retention.ms") == "86400000");
    // The tables every instance reads whole keep their last record per key.
    for (const auto* table : {&c.topics.presence, &c.topics.stations, &c.topics.id_tokens}) {
        const auto t = std::find_if(topics.begin(), topics.end(), [&](const auto& s) { return s.name == *table; });
        REQUIRE(t != topics.end());
        CHECK(t->config.at("cleanup.policy") == "compact");
    }
}

TEST_CASE("the contract shapes the topics: its values, else the durability target", "[app][contract]") {
    gateway::config::Config c;
    c.contract["status"].partitions = 12;
    c.contract["status"].replication = 5;
    c.contract["status"].retention_bytes = 1000;
    c.contract["heartbeat"] = {};  // out of the contract: the cluster's defaults stand
    c.reply.ask = gateway::config::Config::Reply::Ask::unknown;
    const auto topics = required_topics(c, {3, 2});
    REQUIRE(topics.size() == c.topics.by_class.size() + 12);
    auto find = [&](const std::string& name) {
        const auto t = std::find_if(topics.begin(), topics.end(), [&](const auto& s) { return s.name == name; });
        REQUIRE(t != topics.end());
        return *t;
    };
    const auto status = find("ocpp.status");
    CHECK(status.partitions == 12);
    CHECK_FALSE(status.exact_partitions);
    CHECK(status.replication == 5);
    CHECK(status.config.at("retention.bytes") == "1000");
    CHECK(status.config.at("retention.ms") == "604800000");
    const auto heartbeats = find("ocpp.heartbeats");
    CHECK(heartbeats.partitions == -1);
    CHECK(heartbeats.replication == 3);
    CHECK(heartbeats.config == std::map<std::string, std::string>{{"min.insync.replicas", "2"}});
    CHECK(find(c.topics.transaction_ids).exact_partitions);
    CHECK(find(c.topics.authorization_decisions).config.at("retention.ms") == "86400000");

    // Two classes on one topic: the first class's contract is the topic's, listed once.
    c.topics.for_class(ocpp::EventClass::heartbeat) = "ocpp.status";
    const auto shared = required_topics(c, {3, 2});
    CHECK(std::count_if(shared.begin(), shared.end(), [](const auto& s) { return s.name == "ocpp.status"; }) == 1);
}

TEST_CASE("one failed check leaves the cluster reachable and two in a row take readiness away",
          "[app][reachability]") {
    gateway::app::Reachability r;
    CHECK(r.reachable());
    // A broker just back and busy with resends can miss one check's deadline.
    CHECK(r.observe(false));
    CHECK(r.observe(true));
    // The count starts again after a check that passes.
    CHECK(r.observe(false));
    CHECK_FALSE(r.observe(false));
    CHECK_FALSE(r.reachable());
    CHECK_FALSE(r.observe(false));
    // One check that passes is enough to come back, and the next single miss is forgiven.
    CHECK(r.observe(true));
    CHECK(r.observe(false));
    CHECK(r.reachable());
}

TEST_CASE("min.insync.replicas follows a topic's own replicas, and a topic no write could reach is named",
          "[app][durability]") {
    gateway::config::Config c;
    c.contract["status"].replication = 1;  // fewer replicas than the cluster's target
    auto topics = required_topics(c, {3, 2});
    const auto status = std::find_if(topics.begin(), topics.end(), [](const auto& t) { return t.name == "ocpp.status"; });
    REQUIRE(status != topics.end());
    CHECK(status->replication == 1);
    CHECK(status->config.at("min.insync.replicas") == "1");
    CHECK_FALSE(gateway::app::unwritable(topics));
    // Two in sync asked of a topic on a one-broker cluster.
    c.contract["status"] = {};
    c.contract["status"].min_insync = 2;
    const auto one_broker = required_topics(c, {1, 1});
    const auto why = gateway::app::unwritable(one_broker);
    REQUIRE(why);
    CHECK_THAT(*why, Catch::StartsWith("topic ocpp.status would have min.insync.replicas 2 and 1 replica(s)"));
}
