#include <catch2/catch.hpp>

#include "ocpp/version.hpp"

using ocpp::Negotiation;
using ocpp::ProtocolVersion;

TEST_CASE("subprotocol names and labels", "[version]") {
    CHECK(ocpp::subprotocol(ProtocolVersion::v16) == "ocpp1.6");
    CHECK(ocpp::subprotocol(ProtocolVersion::v201) == "ocpp2.0.1");
    CHECK(ocpp::version_label(ProtocolVersion::v201) == "2.0.1");
    CHECK(ocpp::from_subprotocol("ocpp2.0.1") == ProtocolVersion::v201);
    CHECK_FALSE(ocpp::from_subprotocol("OCPP1.6").has_value());
    CHECK(ocpp::from_subprotocol("ocpp2.1") == ProtocolVersion::v21);
    CHECK(ocpp::version_label(ProtocolVersion::v21) == "2.1");
    CHECK(ocpp::parse_version("2.1") == ProtocolVersion::v21);
    CHECK_FALSE(ocpp::from_subprotocol("ocpp2.1.0").has_value());
    CHECK(ocpp::parse_version("1.6") == ProtocolVersion::v16);
    CHECK(ocpp::parse_version("ocpp1.6") == ProtocolVersion::v16);
    CHECK_FALSE(ocpp::parse_version("2.0").has_value());
}

TEST_CASE("the header is split into tokens in the station's order", "[version]") {
    using V = std::vector<std::string>;
    CHECK(ocpp::parse_subprotocol_header("ocpp2.0.1, ocpp1.6") == V{"ocpp2.0.1", "ocpp1.6"});
    CHECK(ocpp::parse_subprotocol_header(" ocpp1.6 ,,\tocpp2.0.1 ") == V{"ocpp1.6", "ocpp2.0.1"});
    CHECK(ocpp::parse_subprotocol_header("").empty());
    CHECK(ocpp::parse_subprotocol_header(" , ").empty());
}

TEST_CASE("negotiation follows the station's preference among supported versions",
          "[version]") {
    const std::vector<ProtocolVersion> both = {ProtocolVersion::v16, ProtocolVersion::v201};
    using O = Negotiation::Outcome;

    auto n = ocpp::negotiate({"ocpp2.0.1", "ocpp1.6"}, both, std::nullopt);
    CHECK(n.outcome == O::selected);
    CHECK(n.version == ProtocolVersion::v201);

    n = ocpp::negotiate({"ocpp1.6", "ocpp2.0.1"}, both, std::nullopt);
    CHECK(n.version == ProtocolVersion::v16);

    SECTION("unknown tokens are skipped") {
        n = ocpp::negotiate({"ocpp2.1", "ocpp1.6"}, both, std::nullopt);
        CHECK(n.outcome == O::selected);
        CHECK(n.version == ProtocolVersion::v16);
    }
    SECTION("a version the gateway does not enable is not chosen") {
        n = ocpp::negotiate({"ocpp2.0.1"}, {ProtocolVersion::v16}, std::nullopt);
        CHECK(n.outcome == O::none_supported);
        CHECK_FALSE(n.version.has_value());
    }
    SECTION("missing header: the configured default, or refusal") {
        n = ocpp::negotiate({}, both, ProtocolVersion::v16);
        CHECK(n.outcome == O::defaulted);
        CHECK(n.version == ProtocolVersion::v16);
        n = ocpp::negotiate({}, both, std::nullopt);
        CHECK(n.outcome == O::missing_refused);
        n = ocpp::negotiate({}, {ProtocolVersion::v201}, ProtocolVersion::v16);
        CHECK(n.outcome == O::missing_refused);
    }
}
