#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "gateway/session/in_flight.hpp"

using gateway::session::InFlight;

TEST_CASE("an in-flight token counts its call once, wherever it goes", "[session]") {
    std::atomic<std::int64_t> count{0};
    {
        InFlight a(count);
        CHECK(count == 1);
        InFlight b(std::move(a));  // moved into a record: still one
        CHECK(count == 1);
        std::vector<InFlight> queue;
        queue.push_back(std::move(b));
        queue.emplace_back(count);
        CHECK(count == 2);
        queue.front().release();
        queue.front().release();  // idempotent
        CHECK(count == 1);
        auto shared = std::make_shared<InFlight>(std::move(queue.back()));
        queue.clear();
        CHECK(count == 1);  // the shared owner (a delivery callback) holds it
        shared.reset();
        CHECK(count == 0);
    }
    CHECK(count == 0);
    InFlight c(count);
    InFlight d(count);
    c = std::move(d);  // the overwritten token leaves the count
    CHECK(count == 1);
}
