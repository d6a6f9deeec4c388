#include <catch2/catch.hpp>

#include "gateway/commands/intake.hpp"

using gateway::commands::OffsetTracker;

namespace {

using Commit = std::vector<std::pair<OffsetTracker::Partition, std::int64_t>>;
const OffsetTracker::Partition kP0{"ocpp.commands", 0};
const OffsetTracker::Partition kP1{"ocpp.commands", 1};

}  // namespace

TEST_CASE("offsets are committed only below the first command not yet acknowledged", "[commands]") {
    OffsetTracker t;
    t.read(kP0, 7);
    t.read(kP0, 8);
    t.read(kP0, 9);
    CHECK(t.committable().empty());
    t.acknowledged(kP0, 8);
    CHECK(t.committable().empty());  // 7 still open
    t.acknowledged(kP0, 7);
    CHECK(t.committable() == Commit{{kP0, 9}});
    CHECK(t.committable().empty());  // nothing moved since
    t.acknowledged(kP0, 9);
    CHECK(t.committable() == Commit{{kP0, 10}});
}

TEST_CASE("partitions are tracked apart, and forgotten when they leave", "[commands]") {
    OffsetTracker t;
    t.read(kP0, 1);
    t.read(kP1, 5);
    t.acknowledged(kP1, 5);
    CHECK(t.committable() == Commit{{kP1, 6}});
    t.forget(kP0);
    t.acknowledged(kP0, 1);  // acknowledged after the partition left: nothing to commit
    CHECK(t.committable().empty());
    // Read again by this instance after the partition came back.
    t.read(kP0, 1);
    t.acknowledged(kP0, 1);
    CHECK(t.committable() == Commit{{kP0, 2}});
}
