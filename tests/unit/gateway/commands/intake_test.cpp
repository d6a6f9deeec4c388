#include <catch2/catch.hpp>

#include <thread>

#include "gateway/commands/intake.hpp"

using gateway::commands::OffsetTracker;
using gateway::commands::OpenReads;

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

TEST_CASE("acknowledgements from delivery threads reach the intake thread's commits", "[commands][threads]") {
    // Run under ThreadSanitizer by the test command (preset tsan).
    OffsetTracker t;
    constexpr int kRecords = 2000;
    for (int o = 0; o < kRecords; ++o) {
        t.read(kP0, o);
    }
    std::thread a([&t] {
        for (int o = 0; o < kRecords; o += 2) {
            t.acknowledged(kP0, o);
        }
    });
    std::thread b([&t] {
        for (int o = 1; o < kRecords; o += 2) {
            t.acknowledged(kP0, o);
        }
    });
    std::int64_t committed = 0;
    while (committed < kRecords) {
        for (const auto& [partition, next] : t.committable()) {
            CHECK(partition == kP0);
            CHECK(next > committed);
            committed = next;
        }
    }
    a.join();
    b.join();
    CHECK(committed == kRecords);
}

TEST_CASE("a command read again is committed with its first read, not before", "[commands]") {
    // The partition came back after a rebalance: offset 7 is read a second time while the
    // first read's route is not acknowledged yet.
    OffsetTracker t;
    OpenReads reads;
    t.read(kP0, 7);
    reads.open("c-1");
    t.read(kP0, 7);
    CHECK(reads.join("c-1", [&t] { t.acknowledged(kP0, 7); }));
    CHECK(t.committable().empty());  // the second read waits for the first
    for (auto& held : reads.close("c-1")) {
        held();
    }
    CHECK(t.committable() == Commit{{kP0, 8}});
    CHECK(reads.size() == 0);
}

TEST_CASE("a command read again after its first read was acknowledged is committed at once",
          "[commands]") {
    OpenReads reads;
    reads.open("c-1");
    CHECK(reads.close("c-1").empty());
    int ran = 0;
    CHECK_FALSE(reads.join("c-1", [&ran] { ++ran; }));
    CHECK(ran == 1);
    CHECK_FALSE(reads.join("never-opened", [&ran] { ++ran; }));
    CHECK(ran == 2);
    CHECK(reads.size() == 0);
}
