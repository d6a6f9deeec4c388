#include <catch2/catch.hpp>

#include "kafka_bridge/table_order.hpp"

using kafka_bridge::RecordOrigin;
using kafka_bridge::supersede;

TEST_CASE("within a partition the later record stands, its time never going back",
          "[kafka][tables]") {
    const auto first = RecordOrigin::of("04A2", 3, 2000);
    const auto second = RecordOrigin::of("04a2", 3, 1000);  // a producer clock stepped back
    const auto kept = supersede(first, second);
    REQUIRE(kept);
    CHECK(kept->spelling == second.spelling);
    CHECK(kept->timestamp_ms == 2000);
    // So a record of another partition written between them does not overtake the second.
    CHECK_FALSE(supersede(*kept, RecordOrigin::of("04a2", 1, 1500)));
}

TEST_CASE("across partitions the later record time stands, whichever is read first",
          "[kafka][tables]") {
    const auto older = RecordOrigin::of("04A2", 0, 1000);
    const auto newer = RecordOrigin::of("04a2", 1, 2000);
    CHECK(supersede(older, newer));
    CHECK_FALSE(supersede(newer, older));
    // The same key after its topic gained partitions: the same rule.
    CHECK(supersede(RecordOrigin::of("04A2", 0, 1000), RecordOrigin::of("04A2", 5, 1001)));
    CHECK_FALSE(supersede(RecordOrigin::of("04A2", 5, 1001), RecordOrigin::of("04A2", 0, 1000)));
}

TEST_CASE("records of one time in two partitions: one of them, the same in either order",
          "[kafka][tables]") {
    for (const auto& [a, b] : {std::pair{RecordOrigin::of("04A2", 0, 1000), RecordOrigin::of("04a2", 1, 1000)},
                               std::pair{RecordOrigin::of("04A2", 0, 1000), RecordOrigin::of("04A2", 1, 1000)},
                               std::pair{RecordOrigin::of("x", 2, -1), RecordOrigin::of("X", 0, -1)}}) {
        const bool b_over_a = supersede(a, b).has_value();
        const bool a_over_b = supersede(b, a).has_value();
        CHECK(b_over_a != a_over_b);
    }
}

TEST_CASE("a spelling's hash is the same in every build", "[kafka][tables]") {
    // FNV-1a 64 of "a": instances of other builds must order spellings alike.
    CHECK(RecordOrigin::of("a", 0, 0).spelling == 0xaf63dc4c8601ec8cULL);
    CHECK(RecordOrigin::of("A", 0, 0).spelling != RecordOrigin::of("a", 0, 0).spelling);
}
