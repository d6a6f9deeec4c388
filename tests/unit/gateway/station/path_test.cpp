#include <catch2/catch.hpp>

#include <string>

#include "gateway/station/path.hpp"

using gateway::station::parse_station_path;

TEST_CASE("station identities are read from the request target", "[station]") {
    struct Case {
        const char* resource;
        int status;  // 0: accepted
        const char* identity;
    };
    const Case cases[] = {
        {"/ocpp/CS01", 0, "CS01"},
        {"/ocpp/CS01?token=x", 0, "CS01"},
        {"/ocpp/CS%2D01", 0, "CS-01"},
        {"/ocpp/cs01", 0, "cs01"},
        {"/ocpp/../admin", 404, ""},
        {"/ocpp/a/b", 404, ""},
        {"/ocpp/", 404, ""},
        {"/ocpp", 404, ""},
        {"/ocppX/CS01", 404, ""},
        {"/other/CS01", 404, ""},
        {"/ocpp/%2F", 400, ""},      // decodes to '/'
        {"/ocpp/%00", 400, ""},      // NUL
        {"/ocpp/%252F", 400, ""},    // decodes once, to "%2F": '%' is not allowed
        {"/ocpp/%2", 400, ""},       // broken escape
        {"/ocpp/CS:01", 400, ""},
        {"/ocpp/%C3%A9", 400, ""},   // non-ASCII
        {"/ocpp/..", 400, ""},       // "." is allowed, but not this way
    };
    for (const auto& c : cases) {
        INFO(c.resource);
        const auto r = parse_station_path(c.resource, "/ocpp");
        if (c.status == 0) {
            REQUIRE(r.ok());
            CHECK(r.value().get() == c.identity);
        } else {
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().status == c.status);
        }
    }
    CHECK(parse_station_path("/ocpp/" + std::string(48, 'A'), "/ocpp").ok());
    CHECK(parse_station_path("/ocpp/" + std::string(49, 'A'), "/ocpp").error().status == 400);
    CHECK(parse_station_path("/ocpp/" + std::string(5000, '%'), "/ocpp").error().status == 400);
}


TEST_CASE("a tenant and a station identity are read from the request target", "[station]") {
    struct Case {
        const char* resource;
        int status;  // 0: accepted
        const char* tenant;
        const char* identity;
    };
    const Case cases[] = {
        {"/ocpp/north/CS01", 0, "north", "CS01"},
        {"/ocpp/north/CS%2D01?x=1", 0, "north", "CS-01"},
        {"/ocpp/CS01", 404, "", ""},          // no tenant segment
        {"/ocpp/CS01?a/b", 404, "", ""},      // the '/' is in the query
        {"/ocpp//CS01", 404, "", ""},         // empty tenant
        {"/ocpp/north/", 404, "", ""},
        {"/ocpp/north/a/b", 404, "", ""},
        {"/ocppX/north/CS01", 404, "", ""},
        {"/ocpp/north/CS:01", 400, "", ""},
    };
    for (const auto& c : cases) {
        INFO(c.resource);
        const auto r = gateway::station::parse_tenant_station_path(c.resource, "/ocpp");
        if (c.status == 0) {
            REQUIRE(r.ok());
            CHECK(r.value().tenant == c.tenant);
            CHECK(r.value().station_id.get() == c.identity);
        } else {
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().status == c.status);
        }
    }
}
