#include <catch2/catch.hpp>

#include "gateway/commands/waiters.hpp"

using gateway::commands::Waiters;
using namespace std::chrono_literals;

TEST_CASE("REST waiters get the result, a time-out or the stop, once each", "[commands]") {
    Waiters w;
    const auto t0 = Waiters::Clock::time_point{} + 1h;
    std::vector<std::string> got;
    auto record = [&got](std::string name) {
        return [&got, name](std::optional<std::string> r) { got.push_back(name + ":" + r.value_or("none")); };
    };
    w.add("c-1", t0 + 5s, record("a"));
    w.add("c-1", t0 + 1s, record("b"));
    const auto c = w.add("c-2", t0 + 2s, record("c"));
    w.add("c-3", t0 + 9s, record("d"));

    CHECK(w.take_expired(t0).empty());
    for (auto& cb : w.take_expired(t0 + 1s)) {
        cb(std::nullopt);
    }
    CHECK(got == std::vector<std::string>{"b:none"});
    for (auto& cb : w.take("c-1")) {
        cb(std::string("result"));
    }
    CHECK(got == std::vector<std::string>{"b:none", "a:result"});
    CHECK(w.take("c-1").empty());  // each once
    w.remove("c-2", c);
    CHECK(w.take_expired(t0 + 1h).size() == 1);  // only c-3 was left
    CHECK(w.take_all().empty());
}

TEST_CASE("removing a REST waiter leaves the others of the same command", "[commands]") {
    Waiters w;
    const auto t0 = Waiters::Clock::time_point{} + 1h;
    std::vector<std::string> got;
    w.add("c-1", t0 + 5s, [&got](std::optional<std::string> r) { got.push_back("first:" + r.value_or("none")); });
    const auto second =
        w.add("c-1", t0 + 5s, [&got](std::optional<std::string> r) { got.push_back("second:" + r.value_or("none")); });
    w.remove("c-1", second);  // its record could not be queued
    for (auto& cb : w.take("c-1")) {
        cb(std::string("result"));
    }
    CHECK(got == std::vector<std::string>{"first:result"});
}
