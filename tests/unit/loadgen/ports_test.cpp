// The generator's warning when its connections would outrun the half of the local ports that
// connect() tries first.
#include <catch2/catch.hpp>

#include "tools/loadgen/ports.hpp"

namespace {

constexpr std::pair<unsigned, unsigned> kDebianRange{32768, 60999};  // 14,116 tried first

}  // namespace

TEST_CASE("no warning while the half of the range connect() tries first suffices") {
    CHECK_FALSE(loadgen::crowded_ports_warning(14116, 1, 0, kDebianRange));
    CHECK_FALSE(loadgen::crowded_ports_warning(18000, 1, 2, kDebianRange));
    CHECK_FALSE(loadgen::crowded_ports_warning(18000, 2, 0, kDebianRange));
    CHECK_FALSE(loadgen::crowded_ports_warning(0, 0, 0, kDebianRange));
}

TEST_CASE("a warning names the count, the range and source addresses that would do") {
    const auto warning = loadgen::crowded_ports_warning(18000, 1, 0, kDebianRange);
    REQUIRE(warning);
    CHECK_THAT(*warning, Catch::Contains("up to 18000 connections"));
    CHECK_THAT(*warning, Catch::Contains("14116 ports"));
    CHECK_THAT(*warning, Catch::Contains("32768-60999"));
    CHECK_THAT(*warning, Catch::Contains("--source-addresses 127.0.0.1-127.0.0.3"));
    // One address given counts as one: the same warning.
    CHECK(loadgen::crowded_ports_warning(18000, 1, 1, kDebianRange) == warning);
    // Two targets from one address: 50,000 stations are 25,000 a pair.
    const auto two = loadgen::crowded_ports_warning(50000, 2, 0, kDebianRange);
    REQUIRE(two);
    CHECK_THAT(*two, Catch::Contains("up to 25000 connections"));
    CHECK_THAT(*two, Catch::Contains("127.0.0.1-127.0.0.3"));
}

TEST_CASE("the half of a range is counted from its size, whatever its ends") {
    // 1001-1004: connect() tries 1001 and 1003 first.
    CHECK_FALSE(loadgen::crowded_ports_warning(2, 1, 0, {1001, 1004}));
    CHECK(loadgen::crowded_ports_warning(3, 1, 0, {1001, 1004}));
    // 1000-1004: five ports, two in the half tried first.
    CHECK_FALSE(loadgen::crowded_ports_warning(2, 1, 0, {1000, 1004}));
    CHECK(loadgen::crowded_ports_warning(3, 1, 0, {1000, 1004}));
    // A single port has no half to search: no warning, and no division by zero.
    CHECK_FALSE(loadgen::crowded_ports_warning(5, 1, 0, {1001, 1001}));
}
