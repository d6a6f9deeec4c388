#include <catch2/catch.hpp>

#include "gateway/app/topic_watch.hpp"

using gateway::app::TopicChange;
using gateway::app::TopicWatch;
using kafka_bridge::TopicState;
using Kind = TopicChange::Kind;

namespace {

std::map<std::string, TopicState> one(const std::string& topic, TopicState state) {
    return {{topic, std::move(state)}};
}

}  // namespace

TEST_CASE("a topic that stays as it was is never reported", "[app][topic-watch]") {
    TopicWatch watch;
    watch.start({{"ocpp.status", {true, "id-a", 3}}, {"ocpp.heartbeats", {true, "id-b", 1}}});
    for (int i = 0; i < 3; ++i) {
        CHECK(watch.observe({{"ocpp.status", {true, "id-a", 3}}, {"ocpp.heartbeats", {true, "id-b", 1}}})
                  .empty());
    }
    const auto status = watch.status();
    CHECK_FALSE(status.at("ocpp.status").missing);
    CHECK(status.at("ocpp.status").partitions == 3);
    CHECK(status.at("ocpp.status").recreated == 0);
}

TEST_CASE("a deleted topic is reported once, then once more when it is created again",
          "[app][topic-watch]") {
    TopicWatch watch;
    watch.start(one("ocpp.status", {true, "id-a", 3}));

    auto changes = watch.observe(one("ocpp.status", {false, "", 0}));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == Kind::missing);
    CHECK(changes[0].is_error());
    CHECK(changes[0].describe().find("ocpp.status no longer exists") != std::string::npos);
    CHECK(watch.status().at("ocpp.status").missing);
    // Still missing: already said.
    CHECK(watch.observe(one("ocpp.status", {false, "", 0})).empty());

    // Created again by someone: a new id, so a new topic (what was in it is gone).
    changes = watch.observe(one("ocpp.status", {true, "id-c", 1}));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == Kind::recreated);
    CHECK(changes[0].is_error());
    CHECK(changes[0].partitions_before == 3);
    CHECK(changes[0].partitions_now == 1);
    CHECK_FALSE(watch.status().at("ocpp.status").missing);
    CHECK(watch.status().at("ocpp.status").recreated == 1);
    CHECK(watch.status().at("ocpp.status").partitions == 1);
    // The new topic is now what later answers are compared with.
    CHECK(watch.observe(one("ocpp.status", {true, "id-c", 1})).empty());
}

TEST_CASE("a topic recreated between two checks is told apart by its id", "[app][topic-watch]") {
    TopicWatch watch;
    watch.start(one("ocpp.transactions", {true, "id-a", 3}));
    const auto changes = watch.observe(one("ocpp.transactions", {true, "id-b", 3}));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == Kind::recreated);
    CHECK(watch.status().at("ocpp.transactions").recreated == 1);
}

TEST_CASE("without ids a topic that comes back is reported as back, not as recreated",
          "[app][topic-watch]") {
    TopicWatch watch;
    watch.start(one("ocpp.status", {true, "", 3}));
    REQUIRE(watch.observe(one("ocpp.status", {false, "", 0})).size() == 1);
    const auto changes = watch.observe(one("ocpp.status", {true, "", 3}));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == Kind::back);
    CHECK_FALSE(changes[0].is_error());
    CHECK(watch.status().at("ocpp.status").recreated == 0);
}

TEST_CASE("added partitions are a warning, reported once", "[app][topic-watch]") {
    TopicWatch watch;
    watch.start(one("ocpp.meter-values", {true, "id-a", 3}));
    auto changes = watch.observe(one("ocpp.meter-values", {true, "id-a", 6}));
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].kind == Kind::partitions_changed);
    CHECK_FALSE(changes[0].is_error());
    CHECK(changes[0].partitions_before == 3);
    CHECK(changes[0].partitions_now == 6);
    CHECK(watch.observe(one("ocpp.meter-values", {true, "id-a", 6})).empty());
    CHECK(watch.status().at("ocpp.meter-values").partitions == 6);
}

TEST_CASE("a topic the cluster did not describe keeps its last known state, and unknown topics "
          "are not watched",
          "[app][topic-watch]") {
    TopicWatch watch;
    watch.start(one("ocpp.status", {true, "id-a", 3}));
    CHECK(watch.observe({}).empty());
    CHECK(watch.observe(one("other.topic", {false, "", 0})).empty());
    CHECK(watch.status().size() == 1);
    CHECK_FALSE(watch.status().at("ocpp.status").missing);
}
