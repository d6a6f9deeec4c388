#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "gateway/station/session_table.hpp"

namespace {

struct FakeSession {
    std::string id;
    std::string tenant_name{};
    const std::string& station_id() const { return id; }
    const std::string& tenant() const { return tenant_name; }
};

using Table = gateway::station::SessionTable<FakeSession>;

}  // namespace

TEST_CASE("the session table finds sessions by connection and identity, and counts addresses", "[station]") {
    Table table;
    auto h1 = std::make_shared<int>(1);  // stand-ins for websocketpp connections
    auto h2 = std::make_shared<int>(2);
    auto h3 = std::make_shared<int>(3);
    auto a = std::make_shared<FakeSession>(FakeSession{"CS-1"});
    auto b = std::make_shared<FakeSession>(FakeSession{"CS-2"});
    CHECK(table.add(h1, a, "10.0.0.1") == nullptr);
    CHECK(table.add(h2, b, "10.0.0.1") == nullptr);
    CHECK(table.size() == 2);
    CHECK(table.connections_from("10.0.0.1") == 2);
    CHECK(table.connections_from("10.0.0.9") == 0);
    CHECK(table.find(h1) == a);
    CHECK(table.find_station("cs-1") == a);  // case-insensitive
    CHECK(table.has_station("CS-2"));

    // The same station again: the newcomer takes the identity, the old one is returned.
    auto a2 = std::make_shared<FakeSession>(FakeSession{"cs-1"});
    CHECK(table.add(h3, a2, "10.0.0.2") == a);
    CHECK(table.find_station("CS-1") == a2);
    // The old connection closing leaves the newcomer in place.
    CHECK(table.remove(h1) == a);
    CHECK(table.find_station("CS-1") == a2);
    CHECK(table.connections_from("10.0.0.1") == 1);
    CHECK(table.remove(h1) == nullptr);  // once
    CHECK(table.remove(h3) == a2);
    CHECK_FALSE(table.has_station("CS-1"));
    CHECK(table.all() == std::vector<std::shared_ptr<FakeSession>>{b});
    CHECK(table.remove(h2) == b);
    CHECK(table.size() == 0);
    CHECK(table.connections_from("10.0.0.1") == 0);
}

TEST_CASE("upgrades count against their address while they are decided", "[station]") {
    Table table;
    auto h1 = std::make_shared<int>(1);
    auto h2 = std::make_shared<int>(2);
    auto h3 = std::make_shared<int>(3);
    CHECK(table.reserve(h1, "10.0.0.1") == 1);
    CHECK(table.reserve(h2, "10.0.0.1") == 2);  // racing upgrades see each other
    CHECK(table.reserve(h2, "10.0.0.1") == 2);  // once per upgrade
    CHECK(table.size() == 0);
    CHECK(table.size_with_reserved() == 2);
    table.release(h2);  // refused
    CHECK(table.connections_from("10.0.0.1") == 1);
    // Accepted: the reservation becomes the session's.
    table.add(h1, std::make_shared<FakeSession>(FakeSession{"CS-1"}), "10.0.0.1");
    CHECK(table.connections_from("10.0.0.1") == 1);
    CHECK(table.size_with_reserved() == 1);
    // An upgrade that fails after it was accepted gives its count back.
    CHECK(table.reserve(h3, "10.0.0.1") == 2);
    CHECK(table.remove(h3) == nullptr);
    CHECK(table.connections_from("10.0.0.1") == 1);
    table.remove(h1);
    CHECK(table.connections_from("10.0.0.1") == 0);
    CHECK(table.size_with_reserved() == 0);
}

TEST_CASE("the session table stays consistent under concurrent upgrades and closes", "[station][threads]") {
    // Run under ThreadSanitizer by the test command (preset tsan).
    Table table;
    constexpr int kThreads = 4;
    constexpr int kPerThread = 200;
    std::atomic<int> wrong{0};  // Catch2's assertions are for the main thread only
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&table, &wrong, t] {
            const std::string ip = "10.0.0." + std::to_string(t % 2);
            for (int i = 0; i < kPerThread; ++i) {
                auto handle = std::make_shared<int>(i);
                table.reserve(handle, ip);
                auto s = std::make_shared<FakeSession>(FakeSession{"CS-" + std::to_string(i % 7)});
                table.add(handle, s, ip);
                (void)table.find_station("cs-" + std::to_string(i % 7));
                (void)table.all();
                if (table.remove(handle) != s) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(wrong == 0);
    CHECK(table.size_with_reserved() == 0);
    CHECK(table.connections_from("10.0.0.0") == 0);
    CHECK(table.connections_from("10.0.0.1") == 0);
}

TEST_CASE("one identity in two tenants is two stations, each counted in its tenant", "[station]") {
    Table table;
    auto h1 = std::make_shared<int>(1);
    auto h2 = std::make_shared<int>(2);
    auto h3 = std::make_shared<int>(3);
    auto north = std::make_shared<FakeSession>(FakeSession{"CP-1", "north"});
    auto south = std::make_shared<FakeSession>(FakeSession{"cp-1", "south"});
    CHECK(table.reserve(h1, "10.0.0.1", "north") == 1);
    CHECK(table.tenant_size("north") == 1);
    CHECK(table.add(h1, north, "10.0.0.1") == nullptr);
    CHECK(table.add(h2, south, "10.0.0.1") == nullptr);  // replaces nothing: another tenant
    CHECK(table.tenant_size("north") == 1);
    CHECK(table.tenant_size("south") == 1);
    CHECK(table.find_station("CP-1", "north") == north);
    CHECK(table.find_station("CP-1", "south") == south);
    CHECK(table.find_station("CP-1") == nullptr);  // no tenant is a tenant of its own
    // Within a tenant the newer connection still replaces the older one.
    auto north2 = std::make_shared<FakeSession>(FakeSession{"cp-1", "north"});
    CHECK(table.add(h3, north2, "10.0.0.2") == north);
    CHECK(table.tenant_size("north") == 2);  // until the replaced one closes
    CHECK(table.remove(h1) == north);
    CHECK(table.tenant_size("north") == 1);
    CHECK(table.find_station("CP-1", "north") == north2);
    CHECK(table.find_station("CP-1", "south") == south);
    table.remove(h2);
    table.remove(h3);
    CHECK(table.tenant_size("north") == 0);
    CHECK(table.tenant_size("south") == 0);
}
