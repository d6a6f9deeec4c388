#include <catch2/catch.hpp>

#include <map>
#include <thread>
#include <vector>

#include "gateway/session/delivery_batch.hpp"

using gateway::session::DeliveryBatch;

namespace {

std::vector<DeliveryBatch::Strand> strands(asio::io_context& io, int n) {
    std::vector<DeliveryBatch::Strand> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(std::make_shared<asio::io_context::strand>(io));
    }
    return out;
}

}  // namespace

TEST_CASE("outcomes gathered in one poll round reach the I/O threads in at most one post per lane",
          "[session][delivery-batch]") {
    asio::io_context io;
    DeliveryBatch batch(io, 2);
    const auto sessions = strands(io, 10);
    std::map<int, std::vector<int>> ran;  // by session, in the order run
    const int polled = batch.gather([&] {
        for (int round = 0; round < 5; ++round) {
            for (int s = 0; s < 10; ++s) {
                batch.run_on(sessions[s], [&ran, s, round] { ran[s].push_back(round); });
            }
        }
        return 50;
    });
    CHECK(polled == 50);
    CHECK(ran.empty());  // nothing runs on the poll thread
    // Handlers the io_context runs: the lanes' posts only; each item is dispatched inline
    // into its (free) strand.
    const auto handlers = io.run();
    CHECK(handlers >= 1);
    CHECK(handlers <= 2);
    REQUIRE(ran.size() == 10);
    for (const auto& [session, rounds] : ran) {
        CHECK(rounds == std::vector<int>{0, 1, 2, 3, 4});  // a session's order is kept
    }
}

TEST_CASE("outside a poll round an outcome is posted to its strand at once", "[session][delivery-batch]") {
    asio::io_context io;
    DeliveryBatch batch(io, 2);
    const auto sessions = strands(io, 1);
    int ran = 0;
    batch.run_on(sessions[0], [&ran] { ++ran; });
    CHECK(ran == 0);
    CHECK(io.run() == 1);
    CHECK(ran == 1);
}

TEST_CASE("a round on one thread does not gather what another thread hands over",
          "[session][delivery-batch]") {
    asio::io_context io;
    DeliveryBatch batch(io, 1);
    const auto sessions = strands(io, 2);
    int gathered = 0;
    int direct = 0;
    batch.gather([&] {
        batch.run_on(sessions[0], [&gathered] { ++gathered; });
        // A flush on another thread (draining) serves reports outside any round.
        std::thread other([&] { batch.run_on(sessions[1], [&direct] { ++direct; }); });
        other.join();
        return 0;
    });
    CHECK(io.run() == 2);  // the round's one post and the other thread's own post
    CHECK(gathered == 1);
    CHECK(direct == 1);
}

TEST_CASE("an empty poll round posts nothing", "[session][delivery-batch]") {
    asio::io_context io;
    DeliveryBatch batch(io, 2);
    CHECK(batch.gather([] { return 0; }) == 0);
    CHECK(io.run() == 0);
}
