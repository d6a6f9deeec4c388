#include <catch2/catch.hpp>

#include "gateway/app/app.hpp"
#include "support.hpp"

using gateway::app::check_files;

TEST_CASE("the files a configuration names are read as a start reads them", "[app][config]") {
    gateway::config::Config c;
    CHECK_FALSE(check_files(c));  // profile 0, no files

    // TLS at the gateway: a key that is not there is named.
    c.security.profile = 2;
    c.tls.certificates.push_back({"/nonexistent/gateway.crt", "/nonexistent/gateway.key"});
    auto tls = check_files(c);
    REQUIRE(tls);
    CHECK_THAT(*tls, Catch::Contains("/nonexistent/gateway.crt"));
    // Behind a load balancer that terminates TLS the gateway reads no certificate; with
    // profile 3 it still reads the CA bundle the forwarded certificates are checked against.
    c.tls.offload = true;
    CHECK_FALSE(check_files(c));
    c.security.profile = 3;
    c.tls.ca_file = "/nonexistent/stations-ca.pem";
    auto ca = check_files(c);
    REQUIRE(ca);
    CHECK_THAT(*ca, Catch::Contains("/nonexistent/stations-ca.pem"));

    gateway::config::Config registry;
    registry.security.stations_file =
        test_support::write_scratch_file("stations-bad.yaml", "stations:\n  - {id: CS01, boot: Maybe}\n");
    auto stations = check_files(registry);
    REQUIRE(stations);
    CHECK_THAT(*stations, Catch::Contains("stations-bad.yaml"));

    gateway::config::Config schemas;
    schemas.schema_overrides = "/nonexistent/schemas";
    auto overrides = check_files(schemas);
    REQUIRE(overrides);
    CHECK_THAT(*overrides, Catch::StartsWith("schemas: "));
}
