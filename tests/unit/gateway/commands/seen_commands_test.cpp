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


TEST_CASE("a command's key is its id and its station, whatever the station's case",
          "[commands]") {
    using gateway::commands::command_key;
    using gateway::commands::command_use_key;
    CHECK(command_key("c-1", "CS-1") == command_key("c-1", "cs-1"));
    CHECK(command_key("c-1", "CS-1") != command_key("c-1", "CS-2"));
    CHECK(command_key("c-1", "CS-1") != command_key("c-2", "CS-1"));
    // The station's length comes first: no two pairs give one key.
    CHECK(command_key("1c", "a") != command_key("c", "a1"));
    CHECK(command_key("", "ab") != command_key("b", "a"));
    CHECK(command_use_key("c-1", "CS-1", "Reset") == command_use_key("c-1", "cs-1", "Reset"));
    CHECK(command_use_key("c-1", "CS-1", "Reset") != command_use_key("c-1", "CS-1", "ClearCache"));
    CHECK(command_use_key("c-1", "CS-1", "Reset") != command_use_key("c-1", "CS-2", "Reset"));
    CHECK(command_use_key("c", "2:ab", "R") != command_use_key("c", "ab", "R2:"));
}

TEST_CASE("an id read back from a record is remembered for the window from the record's time",
          "[commands]") {
    constexpr std::int64_t kDay = 24 * 3600 * 1000;
    constexpr std::int64_t kNow = 10 * kDay;
    SeenCommands seen(100, std::chrono::milliseconds(kDay));
    // Read back at start-up, partition by partition: not in the order of their times.
    CHECK(seen.insert("young", kNow, kNow - 1000));
    CHECK(seen.insert("old", kNow, kNow - 3 * kDay));  // still on the topic, taken days ago
    CHECK(seen.insert("recent", kNow, kNow - kDay + 60'000));
    CHECK_FALSE(seen.contains("old", kNow));
    CHECK(seen.contains("recent", kNow));
    CHECK(seen.insert("old", kNow));  // taken again: a new command
    CHECK_FALSE(seen.insert("old", kNow + 1));
    CHECK_FALSE(seen.insert("recent", kNow));
    // A minute later "recent" is past its day, although "young" is ahead of it in the order.
    CHECK_FALSE(seen.contains("recent", kNow + 120'000));
    CHECK(seen.insert("recent", kNow + 120'000));
    CHECK_FALSE(seen.insert("young", kNow + 120'000));
}

TEST_CASE("an id taken again after its window outlives its first entry's eviction", "[commands]") {
    SeenCommands seen(3, std::chrono::milliseconds(1000));
    CHECK(seen.insert("young", 1000, 1000));
    CHECK(seen.insert("a", 1000, 100));  // read back: taken long before "young"
    CHECK(seen.insert("a", 1200));       // past its window, behind "young": taken again
    // Over capacity: "young" goes, then the first entry of "a", whose window is over; the
    // second one stands.
    CHECK(seen.insert("b", 1300));
    CHECK_FALSE(seen.contains("young"));
    CHECK(seen.contains("a", 1300));
    CHECK_FALSE(seen.insert("a", 1300));
    // Records read back already past their window are not remembered: they use no capacity.
    CHECK(seen.insert("old", 5000, 1000));
    CHECK_FALSE(seen.contains("old"));
}

TEST_CASE("ids forgotten within their window for want of room are counted", "[commands]") {
    SeenCommands seen(2, std::chrono::milliseconds(1000));
    CHECK(seen.insert("a", 0));
    CHECK(seen.insert("b", 10));
    CHECK(seen.forgotten_early() == 0);
    CHECK(seen.insert("c", 20));  // "a" goes within its window
    CHECK(seen.forgotten_early() == 1);
    CHECK(seen.insert("d", 1500));  // "b" and "c" are past theirs: not counted
    CHECK(seen.forgotten_early() == 1);
}
