#include <catch2/catch.hpp>

#include "gateway/commands/recent_results.hpp"

using gateway::commands::RecentResults;
using namespace std::chrono_literals;

TEST_CASE("results are kept by command id, the first one of an id", "[commands]") {
    RecentResults kept(10, 1000, 60s);
    kept.insert("a", "first", 100);
    kept.insert("a", "second", 200);
    CHECK(kept.find("a", 300) == "first");
    CHECK_FALSE(kept.find("b", 300));
    CHECK(kept.size() == 1);
    CHECK(kept.bytes() == 5);
}

TEST_CASE("results are kept within a window, a count and a byte budget", "[commands]") {
    SECTION("the window") {
        RecentResults kept(10, 1000, 1000ms);
        kept.insert("a", "r", 0);
        kept.insert("b", "r", 500);
        CHECK(kept.find("a", 1000));
        CHECK_FALSE(kept.find("a", 1001));  // too old, though still stored
        kept.insert("c", "r", 1400);       // evicts "a"
        CHECK(kept.size() == 2);
        CHECK(kept.find("b", 1400));
    }
    SECTION("the count") {
        RecentResults kept(2, 1000, 60s);
        kept.insert("a", "r", 0);
        kept.insert("b", "r", 1);
        kept.insert("c", "r", 2);
        CHECK_FALSE(kept.find("a", 3));
        CHECK(kept.find("b", 3));
        CHECK(kept.find("c", 3));
    }
    SECTION("the bytes") {
        RecentResults kept(10, 10, 60s);
        kept.insert("a", "1234", 0);
        kept.insert("b", "1234", 1);
        kept.insert("c", "1234", 2);  // 12 bytes would be over: "a" goes
        CHECK_FALSE(kept.find("a", 3));
        CHECK(kept.bytes() == 8);
        kept.insert("d", "12345678901", 3);  // larger than the whole budget: not kept
        CHECK_FALSE(kept.find("d", 4));
        CHECK(kept.find("b", 4));
        CHECK(kept.find("c", 4));
    }
}
