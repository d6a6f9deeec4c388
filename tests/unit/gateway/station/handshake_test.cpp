#include <catch2/catch.hpp>

#include "gateway/station/handshake.hpp"

using gateway::config::Config;
using gateway::station::read_handshake;
using ocpp::ProtocolVersion;

TEST_CASE("an upgrade names a station and an OCPP version, or is refused with a reason", "[station]") {
    Config config;
    struct Case {
        const char* resource;
        std::vector<std::string> offered;
        int status;  // 0: accepted
        const char* reason;
    };
    const Case cases[] = {
        {"/ocpp/CS-1", {"ocpp2.0.1", "ocpp1.6"}, 0, ""},
        {"/ocpp/CS-1", {}, 0, ""},  // no header: 1.6 by default
        {"/other/CS-1", {"ocpp1.6"}, 404, "unknown_path"},
        {"/ocpp/CS:1", {"ocpp1.6"}, 400, "bad_identity"},
        {"/ocpp/CS-1", {"ocpp1.5", "wamp"}, 400, "unsupported_subprotocol"},
    };
    for (const auto& c : cases) {
        INFO(c.resource);
        const auto r = read_handshake(config, c.resource, c.offered);
        if (c.status == 0) {
            REQUIRE(r.ok());
            CHECK(r.value().station_id.get() == "CS-1");
        } else {
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().status == c.status);
            CHECK(r.error().reason == c.reason);
            CHECK(r.error().retry_after == 0);
        }
    }
    // The station's order of preference wins.
    auto h = read_handshake(config, "/ocpp/CS-1", {"ocpp2.0.1", "ocpp1.6"});
    REQUIRE(h.ok());
    CHECK(h.value().version == ProtocolVersion::v201);
    CHECK(h.value().subprotocol == "ocpp2.0.1");
    h = read_handshake(config, "/ocpp/CS-1", {});
    REQUIRE(h.ok());
    CHECK(h.value().version == ProtocolVersion::v16);
    CHECK_FALSE(h.value().subprotocol);  // nothing to select

    config.missing_subprotocol = std::nullopt;
    CHECK(read_handshake(config, "/ocpp/CS-1", {}).error().reason == "no_subprotocol");
    config.allowed_stations = {"cs-2"};
    CHECK(read_handshake(config, "/ocpp/CS-1", {"ocpp1.6"}).error().reason == "unknown_station");
    CHECK(read_handshake(config, "/ocpp/Cs-2", {"ocpp1.6"}).ok());  // case-insensitive
}
