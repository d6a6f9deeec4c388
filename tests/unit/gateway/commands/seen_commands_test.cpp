#include <catch2/catch.hpp>

#include "gateway/commands/seen_commands.hpp"

using gateway::commands::SeenCommands;

TEST_CASE("command ids are remembered within a window and a capacity", "[commands]") {
    SeenCommands seen(3, std::chrono::milliseconds(1000));
    CHECK(seen.insert("a", 0));
    CHECK_FALSE(seen.insert("a", 10));
    CHECK(seen.insert("b", 20));
    CHECK(seen.insert("c", 30));
    CHECK(seen.insert("d", 40));  // over capacity: "a" is forgotten
    CHECK_FALSE(seen.contains("a"));
    CHECK(seen.contains("d"));
    CHECK(seen.insert("e", 1031));  // "b" and "c" are older than the window
    CHECK_FALSE(seen.contains("b"));
    CHECK_FALSE(seen.contains("c"));
    CHECK(seen.contains("d"));
}

