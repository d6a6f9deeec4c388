#include <catch2/catch.hpp>

#include "gateway/commands/route_log.hpp"

using gateway::commands::RouteLog;
using namespace std::chrono_literals;

namespace {
constexpr std::int64_t kNow = 1'780'000'000'000;
}

TEST_CASE("the first route of a command is its decision, a second owner's is not taken",
          "[commands][routes]") {
    RouteLog log(100, 24h);
    CHECK(log.take("c-1", 0, 0, kNow));
    CHECK_FALSE(log.take("c-1", 0, 0, kNow));  // decided again after a rebalance
    CHECK(log.take("c-2", 0, 0, kNow));        // another command
    // The station moved: a re-route at the next hop follows the decision, once.
    CHECK(log.take("c-1", 1, 0, kNow));
    CHECK_FALSE(log.take("c-1", 1, 0, kNow));
    CHECK(log.take("c-1", 2, 0, kNow));
}

TEST_CASE("of two instances claiming to end one decision, the first claim stands",
          "[commands][routes]") {
    RouteLog log(100, 24h);
    REQUIRE(log.take("c-1", 0, 0, kNow));
    CHECK(log.take("c-1", 0, 1, kNow));
    CHECK_FALSE(log.take("c-1", 0, 1, kNow));  // the second instance's claim
    // The claimer went away too: the next claim follows the first, once.
    CHECK(log.take("c-1", 0, 2, kNow));
    CHECK_FALSE(log.take("c-1", 0, 2, kNow));
}

TEST_CASE("a claim and a re-route of one decision never both stand", "[commands][routes]") {
    SECTION("the claim first: the late re-route of the instance thought gone is not taken") {
        RouteLog log(100, 24h);
        REQUIRE(log.take("c-1", 0, 0, kNow));
        CHECK(log.take("c-1", 0, 1, kNow));
        CHECK_FALSE(log.take("c-1", 1, 0, kNow));
        CHECK_FALSE(log.take("c-1", 2, 0, kNow));  // nor what it would lead to
    }
    SECTION("the re-route first: a claim on the decision it replaced is not taken") {
        RouteLog log(100, 24h);
        REQUIRE(log.take("c-1", 0, 0, kNow));
        CHECK(log.take("c-1", 1, 0, kNow));
        CHECK_FALSE(log.take("c-1", 0, 1, kNow));
        CHECK(log.take("c-1", 1, 1, kNow));  // a claim on the re-route is
    }
}

TEST_CASE("route keys of command ids holding '#' do not collide", "[commands][routes]") {
    RouteLog log(100, 24h);
    CHECK(log.take("a#1", 0, 0, kNow));
    CHECK(log.take("a", 1, 0, kNow));  // not "a#1" at hop 0 again
    CHECK(log.take("a#1", 0, 1, kNow));
    CHECK(log.take("a", 1, 1, kNow));
}

TEST_CASE("one command id taken by two stations' commands: each has a decision of its own",
          "[commands][routes]") {
    using gateway::commands::command_key;
    // Their routes are in two partitions, which instances read in no fixed order: whichever
    // comes first, neither hides the other.
    for (const bool s1_first : {true, false}) {
        RouteLog log(100, 24h);
        const auto s1 = command_key("c-1", "CS-1");
        const auto s2 = command_key("c-1", "CS-2");
        CHECK(log.take(s1_first ? s1 : s2, 0, 0, kNow));
        CHECK(log.take(s1_first ? s2 : s1, 0, 0, kNow));
        CHECK_FALSE(log.take(command_key("c-1", "cs-1"), 0, 0, kNow));  // a second owner's
        CHECK(log.take(s2, 0, 1, kNow));  // a claim on one station's decision
        CHECK(log.take(s1, 1, 0, kNow));  // does not stop the other's re-route
    }
}

TEST_CASE("a record dated long ago never passes for the first of a decision already taken",
          "[commands][routes]") {
    constexpr std::int64_t kDay = 24LL * 3600 * 1000;
    RouteLog log(100, 25h);
    // A decision read live, then the same decision again from an instance whose clock is two
    // days behind: its record time plays no part against a decision remembered.
    REQUIRE(log.take("c-1", 0, 0, kNow));
    CHECK_FALSE(log.take("c-1", 0, 0, kNow + 10, kNow - 2 * kDay));
    // Nor for a claim after one was taken, nor for what follows a record not taken.
    REQUIRE(log.take("c-1", 0, 1, kNow + 20));
    CHECK_FALSE(log.take("c-1", 0, 1, kNow + 30, kNow - 2 * kDay));
    CHECK_FALSE(log.take("c-1", 1, 0, kNow + 40, kNow - 2 * kDay));  // a re-route after the claim
    // Read back at start-up, a decision older than the window is not remembered at all.
    RouteLog fresh(100, 25h);
    CHECK(fresh.take("c-2", 0, 0, kNow, kNow - 2 * kDay));
    CHECK(fresh.take("c-2", 0, 0, kNow, kNow - 2 * kDay));
}
