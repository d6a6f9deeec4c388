#include <catch2/catch.hpp>

#include "gateway/session/transaction_id_guard.hpp"

using gateway::session::TransactionIdGuard;
using Clock = std::chrono::steady_clock;

TEST_CASE("ids past the last one given are given, one at or below it is refused",
          "[session][transaction-ids]") {
    TransactionIdGuard guard;
    guard.start(100);  // the topic ended at offset 100 at start-up
    const auto t = Clock::now();
    CHECK(guard.admit(101, t).given);
    CHECK(guard.admit(102, t).given);
    CHECK(guard.given() == 102);
    CHECK_FALSE(guard.take_behind());

    // The topic created again: offsets from 0.
    const auto refused = guard.admit(1, t);
    CHECK_FALSE(refused.given);
    CHECK(refused.log);
    CHECK(refused.floor == 102);
    CHECK(guard.take_behind());
    CHECK_FALSE(guard.take_behind());
    // Another instance may have given ids this one has not seen: the floor rises once per
    // run of refusals, and the next refusal within the minute is not logged again.
    CHECK(guard.given() == 102 + TransactionIdGuard::kMargin);
    const auto again = guard.admit(2, t + std::chrono::seconds(1));
    CHECK_FALSE(again.given);
    CHECK_FALSE(again.log);
    CHECK(guard.given() == 102 + TransactionIdGuard::kMargin);
    CHECK(guard.admit(103, t).given == false);  // within the margin: still refused
    CHECK(guard.admit(1 + 102 + TransactionIdGuard::kMargin, t).given);
    CHECK(guard.admit(2, t + std::chrono::minutes(2)).log);  // a new minute, a new line
}

TEST_CASE("a suspended guard refuses every id until it resumes past the topic's end",
          "[session][transaction-ids]") {
    TransactionIdGuard guard;
    guard.start(10);
    const auto t = Clock::now();
    guard.suspend();
    CHECK(guard.suspended());
    CHECK_FALSE(guard.admit(500, t).given);
    guard.resume_past(30'000);
    CHECK_FALSE(guard.suspended());
    CHECK_FALSE(guard.admit(30'000, t).given);
    CHECK(guard.admit(30'001, t).given);
    // Resuming never lowers what may have been given.
    guard.resume_past(5);
    CHECK(guard.given() == 30'001);
}
