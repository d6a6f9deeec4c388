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

TEST_CASE("a deletion holds older records of its key off, and yields to later ones",
          "[kafka][tables]") {
    kafka_bridge::Deletions deleted;
    const auto tombstone = RecordOrigin::of("04A2", 0, 2000);
    // Nothing stands: any record is taken as it is.
    const auto first = deleted.judge("04a2", nullptr, RecordOrigin::of("04a2", 1, 1000));
    REQUIRE(first);
    CHECK(first->timestamp_ms == 1000);
    deleted.remember("04a2", tombstone, 0);
    CHECK(deleted.size() == 1);
    CHECK_FALSE(deleted.judge("04a2", nullptr, RecordOrigin::of("04a2", 1, 1000)));
    CHECK(deleted.judge("04a2", nullptr, RecordOrigin::of("04a2", 1, 3000)));
    // An entry that stands is judged against, not the deletion.
    const auto live = RecordOrigin::of("04a2", 1, 500);
    CHECK(deleted.judge("04a2", &live, RecordOrigin::of("04a2", 2, 1000)));
    // Written again: the deletion is gone.
    deleted.forget("04a2");
    CHECK(deleted.size() == 0);
    CHECK(deleted.judge("04a2", nullptr, RecordOrigin::of("04a2", 1, 1000)));
}

TEST_CASE("a deletion is forgotten a day after it was applied, a later one of the key is not",
          "[kafka][tables]") {
    constexpr std::int64_t kDay = 24LL * 3600 * 1000;
    const auto tombstone = RecordOrigin::of("cs-8", 0, 1000);
    const auto older = RecordOrigin::of("CS-8", 1, 500);
    kafka_bridge::Deletions deleted;
    deleted.remember("cs-8", tombstone, 0);
    deleted.expire(kDay);
    CHECK_FALSE(deleted.judge("cs-8", nullptr, older));
    deleted.expire(kDay + 1);
    CHECK(deleted.size() == 0);
    CHECK(deleted.judge("cs-8", nullptr, older));

    // Deleted again (a tombstone of the same time, read again) half a day later: that one
    // counts from its own application.
    deleted.remember("cs-8", tombstone, 0);
    deleted.remember("cs-8", tombstone, kDay / 2);
    deleted.expire(kDay + 1);
    CHECK_FALSE(deleted.judge("cs-8", nullptr, older));
    deleted.expire(kDay / 2 + kDay + 1);
    CHECK(deleted.judge("cs-8", nullptr, older));

    // Written and deleted again in between: the same.
    deleted.remember("cs-8", tombstone, 0);
    deleted.forget("cs-8");
    deleted.remember("cs-8", RecordOrigin::of("cs-8", 0, 1000), kDay / 2);
    deleted.expire(kDay + 1);
    CHECK(deleted.size() == 1);
}
