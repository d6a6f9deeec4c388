#include <catch2/catch.hpp>

#include <string>

#include "ocpp/identity.hpp"

TEST_CASE("station identities follow the contract", "[identity]") {
    CHECK_FALSE(ocpp::identity_error("CP-01_a.b*c=d+e|f@g"));
    CHECK(ocpp::identity_error(""));
    CHECK(ocpp::identity_error(std::string(49, 'a')));
    CHECK_FALSE(ocpp::identity_error(std::string(48, 'a')));
    CHECK(ocpp::identity_error("a:b"));
    CHECK(ocpp::identity_error("../admin"));
    CHECK(ocpp::identity_error("a/b"));
    CHECK(ocpp::identity_error(std::string("a\0b", 3)));
    CHECK(ocpp::identity_error("caf\xc3\xa9"));
    CHECK(ocpp::identity_error("%2F"));
}

TEST_CASE("a valid identity becomes a StationId as written", "[identity]") {
    const auto id = ocpp::parse_station_id("Cs-01");
    REQUIRE(id.ok());
    CHECK(id.value().get() == "Cs-01");
    const auto bad = ocpp::parse_station_id("a:b");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error() == "station identity contains ':'");
}
