#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "ocpp/schema_registry.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::Errc;
using ocpp::ProtocolVersion;
using ocpp::SchemaKind;

namespace {

ocpp::ValidationResult check(ProtocolVersion v, const char* action, SchemaKind kind,
                             const char* payload) {
    return test_support::official_schemas().validate(v, action, kind, json::parse(payload));
}

}  // namespace

TEST_CASE("valid payloads pass", "[schema]") {
    CHECK(check(ProtocolVersion::v16, "BootNotification", SchemaKind::request,
                R"({"chargePointVendor":"V","chargePointModel":"M"})")
              .ok());
    CHECK(check(ProtocolVersion::v201, "Heartbeat", SchemaKind::request, "{}").ok());
    CHECK(check(ProtocolVersion::v201, "Heartbeat", SchemaKind::response,
                R"({"currentTime":"2026-03-01T10:00:00+02:00"})")
              .ok());
}

TEST_CASE("violations are categorised with their path", "[schema]") {
    auto r = check(ProtocolVersion::v16, "BootNotification", SchemaKind::request,
                   R"({"chargePointVendor":5,"chargePointModel":"M"})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::type_violation);
    CHECK(r.violations.front().path == "/chargePointVendor");

    r = check(ProtocolVersion::v16, "BootNotification", SchemaKind::request,
              R"({"chargePointVendor":"V"})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::occurrence_violation);

    r = check(ProtocolVersion::v16, "BootNotification", SchemaKind::request,
              R"({"chargePointVendor":"V","chargePointModel":"M","x":1})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::property_violation);

    r = check(ProtocolVersion::v16, "BootNotification", SchemaKind::request,
              R"({"chargePointVendor":"012345678901234567890","chargePointModel":"M"})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::property_violation);

    r = check(ProtocolVersion::v201, "StatusNotification", SchemaKind::request,
              R"({"timestamp":"2026-02-30T10:00:00Z","connectorStatus":"Available",
                  "evseId":1,"connectorId":1})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::format_violation);
    CHECK(r.violations.front().path == "/timestamp");
    CHECK_THAT(r.summary(), Catch::Contains("/timestamp"));
}

TEST_CASE("nested violations report the innermost cause", "[schema]") {
    auto r = check(ProtocolVersion::v16, "MeterValues", SchemaKind::request,
                   R"({"connectorId":1,"meterValue":[{"timestamp":"2026-03-01T10:00:00Z",
                       "sampledValue":[{"value":"1","unit":"kwh"}]}]})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::property_violation);
    CHECK(r.violations.front().path == "/meterValue/0/sampledValue/0/unit");

    // 2.0.1 requires at least one meter value (1.6's schema does not).
    r = check(ProtocolVersion::v201, "MeterValues", SchemaKind::request,
              R"({"evseId":1,"meterValue":[]})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::occurrence_violation);
}

TEST_CASE("a missing property comes first, before what is wrong with the others", "[schema]") {
    // chargePointModel missing; chargePointVendor of the wrong type; an unknown member.
    const auto payload = json::parse(R"({"chargePointVendor":5,"x~/y":1})");
    const auto& schemas = test_support::official_schemas();
    auto r = schemas.validate(ProtocolVersion::v16, "BootNotification", SchemaKind::request, payload);
    REQUIRE(r.violations.size() == 3);
    CHECK(r.violations[0].errc == Errc::occurrence_violation);
    CHECK(r.violations[0].path == "/");
    CHECK_THAT(r.violations[0].message, Catch::Contains("chargePointModel"));
    CHECK(r.violations[1].errc == Errc::type_violation);
    CHECK(r.violations[1].path == "/chargePointVendor");
    CHECK(r.violations[2].errc == Errc::property_violation);
    CHECK(r.violations[2].path == "/x~0~1y");  // RFC 6901 escapes

    // With room for one, the missing property is the one.
    r = schemas.validate(ProtocolVersion::v16, "BootNotification", SchemaKind::request, payload, 1);
    REQUIRE(r.violations.size() == 1);
    CHECK(r.violations[0].errc == Errc::occurrence_violation);

    // Nothing missing: the members' violations alone, in order, at any depth.
    r = check(ProtocolVersion::v201, "MeterValues", SchemaKind::request,
              R"({"evseId":1,"meterValue":[{"timestamp":"2026-03-01T10:00:00Z",
                  "sampledValue":[{"value":1},{"value":"2","measurand":"Nope"}]}]})");
    REQUIRE(r.violations.size() == 2);
    CHECK(r.violations[0].path == "/meterValue/0/sampledValue/1/measurand");
    CHECK(r.violations[1].path == "/meterValue/0/sampledValue/1/value");
}

TEST_CASE("multipleOf 0.1 accepts decimal charging limits", "[schema]") {
    const char* ok = R"({"status":"Accepted","connectorId":1,"scheduleStart":"2026-03-01T10:00:00Z",
        "chargingSchedule":{"chargingRateUnit":"A","minChargingRate":6.1,
        "chargingSchedulePeriod":[{"startPeriod":0,"limit":8.3},{"startPeriod":60,"limit":16.7}]}})";
    CHECK(check(ProtocolVersion::v16, "GetCompositeSchedule", SchemaKind::response, ok).ok());
    const char* bad = R"({"status":"Accepted","chargingSchedule":{"chargingRateUnit":"A",
        "chargingSchedulePeriod":[{"startPeriod":0,"limit":8.35}]}})";
    auto r = check(ProtocolVersion::v16, "GetCompositeSchedule", SchemaKind::response, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::property_violation);
}

TEST_CASE("an action without a schema is reported, not thrown", "[schema]") {
    auto r = check(ProtocolVersion::v16, "TransactionEvent", SchemaKind::request, "{}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::unknown_action);
}

TEST_CASE("operators' schemas override the official ones", "[schema]") {
    const auto dir = test_support::scratch_dir() / "schema-override";
    std::filesystem::create_directories(dir / "ocpp1.6");
    {
        std::ofstream out(dir / "ocpp1.6" / "datatransfer.json");
        out << R"({"$id":"urn:DataTransfer.req","type":"object","additionalProperties":false,
                  "properties":{"vendorId":{"type":"string","enum":["com.acme"]},
                                "messageId":{"type":"string"},"data":{"type":"string"}},
                  "required":["vendorId","data"]})";
    }
    const ocpp::SchemaRegistry custom(dir);
    CHECK(custom.override_count() == 1);
    const auto payload = json::parse(R"({"vendorId":"com.other","data":"x"})");
    CHECK(test_support::official_schemas().validate(ProtocolVersion::v16, "DataTransfer", SchemaKind::request, payload)
              .ok());
    const auto r = custom.validate(ProtocolVersion::v16, "DataTransfer", SchemaKind::request,
                                   payload);
    REQUIRE_FALSE(r.ok());
    CHECK(r.violations.front().errc == Errc::property_violation);
    CHECK(custom
              .validate(ProtocolVersion::v16, "DataTransfer", SchemaKind::request,
                        json::parse(R"({"vendorId":"com.acme","data":"x"})"))
              .ok());

    SECTION("a bad override stops start-up with a precise message") {
        {
            std::ofstream out(dir / "ocpp1.6" / "zz-bad.json");
            out << R"({"$id":"urn:NoSuchAction.req","type":"object"})";
        }
        CHECK_THROWS_WITH(ocpp::SchemaRegistry(dir), Catch::Contains("NoSuchAction") &&
                                                         Catch::Contains("zz-bad.json"));
        {
            std::ofstream out(dir / "ocpp1.6" / "zz-bad.json");
            out << "{ not json";
        }
        CHECK_THROWS_WITH(ocpp::SchemaRegistry(dir), Catch::Contains("not valid JSON"));
        CHECK_THROWS_WITH(ocpp::SchemaRegistry(dir / "missing"),
                          Catch::Contains("does not exist"));
    }
    std::filesystem::remove_all(dir);
}
