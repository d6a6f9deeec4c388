#include <catch2/catch.hpp>

#include "gateway/security/throttle.hpp"

using namespace gateway::security;
using Clock = std::chrono::steady_clock;

TEST_CASE("failed attempts back off exponentially per key", "[security]") {
    AttemptThrottle throttle({3, std::chrono::seconds(60), std::chrono::seconds(1),
                              std::chrono::seconds(8), 2});
    const auto t0 = Clock::now();
    CHECK_FALSE(throttle.failure("id:a", t0));
    CHECK_FALSE(throttle.failure("id:a", t0));
    CHECK(throttle.retry_after("id:a", t0).count() == 0);
    CHECK(throttle.failure("id:a", t0));  // third: 1 s, a refusal period starts
    CHECK_FALSE(throttle.failure("id:a", t0));  // within it: no new period (2 s now)
    CHECK(throttle.retry_after("id:a", t0).count() >= 1);
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(3)).count() == 0);
    CHECK(throttle.failure("id:a", t0 + std::chrono::seconds(3)));  // 4 s, a new period
    throttle.failure("id:a", t0 + std::chrono::seconds(8));   // 8 s (the maximum)
    throttle.failure("id:a", t0 + std::chrono::seconds(17));  // stays 8 s
    throttle.failure("id:a", t0 + std::chrono::seconds(19));  // stays 8 s
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(26)).count() >= 1);
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(28)).count() == 0);
    CHECK(throttle.retry_after("id:b", t0).count() == 0);
    throttle.success("id:a");
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(20)).count() == 0);
    // Bounded: a third key evicts the oldest.
    throttle.failure("k1", t0);
    throttle.failure("k2", t0 + std::chrono::seconds(1));
    throttle.failure("k3", t0 + std::chrono::seconds(2));
    for (int i = 0; i < 3; ++i) {
        throttle.failure("k3", t0 + std::chrono::seconds(2));
    }
    CHECK(throttle.retry_after("k3", t0 + std::chrono::seconds(2)).count() >= 1);
}

TEST_CASE("when full, the key whose window started first is forgotten", "[security]") {
    using std::chrono::seconds;
    AttemptThrottle throttle({3, seconds(60), seconds(1), seconds(8), 2});
    const auto t0 = Clock::now();
    throttle.failure("a", t0);
    throttle.failure("b", t0 + seconds(1));
    throttle.failure("a", t0 + seconds(100));  // a's window starts again: now the later one
    throttle.failure("c", t0 + seconds(101));  // full: b goes, not a
    throttle.failure("a", t0 + seconds(101));
    CHECK(throttle.failure("a", t0 + seconds(101)));  // a's third failure in its window
    throttle.success("a");
    throttle.failure("d", t0 + seconds(102));  // room again: c stays
    throttle.failure("c", t0 + seconds(102));
    CHECK(throttle.failure("c", t0 + seconds(102)));
}

TEST_CASE("the token bucket admits its rate and its burst", "[security]") {
    RateLimiter limiter(10, 5);
    const auto t0 = Clock::now();
    int admitted = 0;
    for (int i = 0; i < 20; ++i) {
        admitted += limiter.try_take(t0) ? 1 : 0;
    }
    CHECK(admitted == 5);
    CHECK_FALSE(limiter.try_take(t0 + std::chrono::milliseconds(50)));
    CHECK(limiter.try_take(t0 + std::chrono::milliseconds(110)));
    CHECK_FALSE(limiter.try_take(t0 + std::chrono::milliseconds(120)));
}

TEST_CASE("the work budget lets work start until it is overdrawn and refills with time", "[security]") {
    using namespace std::chrono_literals;
    WorkBudget budget(100ms, 100ms);  // 100 ms of work per second, as much saved up
    const auto t0 = Clock::now();
    CHECK(budget.available(t0));
    budget.charge(60ms, t0);
    CHECK(budget.available(t0));  // 40 ms left
    budget.charge(60ms, t0);      // overdrawn by 20 ms: work that started is charged in full
    CHECK_FALSE(budget.available(t0));
    CHECK_FALSE(budget.available(t0 + 150ms));  // 15 ms back: still 5 ms short
    CHECK(budget.available(t0 + 250ms));
    // Idle time saves up one second's worth, no more.
    budget.charge(100ms, t0 + 10s);
    CHECK_FALSE(budget.available(t0 + 10s));
}
