#include <catch2/catch.hpp>

#include "ocpp/repair.hpp"
#include "ocpp/rfc3339.hpp"
#include "ocpp/schema_registry.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;
using ocpp::RepairRule;
using ocpp::SchemaKind;

namespace {

ocpp::RepairPolicy allowing(std::initializer_list<RepairRule> rules, int offset_minutes = 0) {
    ocpp::RepairPolicy policy;
    for (const RepairRule r : rules) {
        policy.allow(r);
    }
    policy.assume_offset_minutes = offset_minutes;
    return policy;
}

struct Outcome {
    json payload;
    std::vector<ocpp::Repair> repairs;
    bool valid_before;
    bool valid_after;
};

Outcome repair(ProtocolVersion v, const char* action, const char* payload,
               const ocpp::RepairPolicy& policy) {
    const auto& schemas = test_support::official_schemas();
    Outcome out{json::parse(payload), {}, false, false};
    out.valid_before = schemas.validate(v, action, SchemaKind::request, out.payload).ok();
    const json* schema = schemas.document(v, action, SchemaKind::request);
    REQUIRE(schema != nullptr);
    out.repairs = ocpp::repair_payload(*schema, out.payload, policy);
    out.valid_after = schemas.validate(v, action, SchemaKind::request, out.payload).ok();
    return out;
}

constexpr const char* kMeterValues16 =
    R"({"connectorId":1,"meterValue":[{"timestamp":"2026-12-01T10:00:00",)"
    R"("sampledValue":[{"value":"12.5","unit":"KWH","measurand":"energy_active_import_register"}]}]})";

}  // namespace

TEST_CASE("every repair rule has a name that reads back", "[repair]") {
    for (std::size_t i = 0; i < ocpp::kRepairRuleCount; ++i) {
        const auto rule = static_cast<RepairRule>(i);
        CHECK(ocpp::parse_repair_rule(ocpp::repair_rule_name(rule)) == rule);
    }
    CHECK_FALSE(ocpp::parse_repair_rule("timestamps"));
}

TEST_CASE("a timestamp without an offset is read in the assumed offset and written in UTC", "[repair]") {
    auto out = repair(ProtocolVersion::v16, "MeterValues", kMeterValues16,
                      allowing({RepairRule::timestamp_without_offset, RepairRule::enum_case}, 60));
    CHECK_FALSE(out.valid_before);
    CHECK(out.valid_after);
    CHECK(out.payload["meterValue"][0]["timestamp"] == "2026-12-01T09:00:00Z");
    REQUIRE(out.repairs.size() == 3);
    // Depth first, properties in name order: sampledValue's two enums, then the timestamp.
    CHECK(out.repairs[2].rule == RepairRule::timestamp_without_offset);
    CHECK(out.repairs[2].path == "/meterValue/0/timestamp");
    CHECK(out.repairs[2].from == "2026-12-01T10:00:00");
    CHECK(*out.repairs[2].to == json("2026-12-01T09:00:00Z"));
}

TEST_CASE("timestamps cross midnight, months and years, and keep their fraction", "[repair]") {
    auto at = [](const char* text, int offset) {
        json payload = {{"timestamp", text}, {"status", "Available"}, {"connectorId", 1},
                        {"errorCode", "NoError"}};
        ocpp::RepairPolicy policy;
        policy.allow(RepairRule::timestamp_without_offset);
        policy.assume_offset_minutes = offset;
        const auto* schema = test_support::official_schemas().document(
            ProtocolVersion::v16, "StatusNotification", SchemaKind::request);
        ocpp::repair_payload(*schema, payload, policy);
        return payload["timestamp"].get<std::string>();
    };
    CHECK(at("2027-01-01T00:30:00.125", 60) == "2026-12-31T23:30:00.125Z");
    CHECK(at("2028-02-28T23:00:00", -90) == "2028-02-29T00:30:00Z");
    CHECK(at("2026-06-01T12:00:00", 0) == "2026-06-01T12:00:00Z");
    // Not that shape, or not a real moment: left for the validator to refuse.
    CHECK(at("2026-02-30T12:00:00", 0) == "2026-02-30T12:00:00");
    CHECK(at("2026-06-01 12:00:00", 0) == "2026-06-01 12:00:00");
    CHECK(at("yesterday", 0) == "yesterday");
}

TEST_CASE("a payload that is valid is never touched", "[repair]") {
    const char* valid = R"({"connectorId":1,"meterValue":[{"timestamp":"2026-12-01T10:00:00+01:00",)"
                        R"("sampledValue":[{"value":"12.5","unit":"kWh"}]}]})";
    auto out = repair(ProtocolVersion::v16, "MeterValues", valid,
                      allowing({RepairRule::timestamp_without_offset, RepairRule::enum_case,
                                RepairRule::unknown_properties, RepairRule::number_as_string,
                                RepairRule::string_as_number, RepairRule::empty_optional}));
    CHECK(out.valid_before);
    CHECK(out.repairs.empty());
    CHECK(out.payload == json::parse(valid));
}

TEST_CASE("only the rules a policy allows are applied", "[repair]") {
    auto out = repair(ProtocolVersion::v16, "MeterValues", kMeterValues16,
                      allowing({RepairRule::enum_case}));
    CHECK_FALSE(out.valid_after);  // the timestamp still lacks its offset
    REQUIRE(out.repairs.size() == 2);
    CHECK(out.repairs[0].path == "/meterValue/0/sampledValue/0/measurand");
    CHECK(*out.repairs[0].to == json("Energy.Active.Import.Register"));
    CHECK(out.repairs[1].path == "/meterValue/0/sampledValue/0/unit");
    CHECK(*out.repairs[1].to == json("kWh"));
    CHECK(out.payload["meterValue"][0]["timestamp"] == "2026-12-01T10:00:00");
}

TEST_CASE("enum-case needs exactly one official value", "[repair]") {
    auto out = repair(ProtocolVersion::v16, "StatusNotification",
                      R"({"connectorId":1,"errorCode":"no_error","status":"CHARGING"})",
                      allowing({RepairRule::enum_case}));
    CHECK(out.valid_after);
    CHECK(out.payload["status"] == "Charging");
    CHECK(out.payload["errorCode"] == "NoError");
    auto unknown = repair(ProtocolVersion::v16, "StatusNotification",
                          R"({"connectorId":1,"errorCode":"NoError","status":"Plugged"})",
                          allowing({RepairRule::enum_case}));
    CHECK(unknown.repairs.empty());
    CHECK_FALSE(unknown.valid_after);
}

TEST_CASE("unknown properties are removed and reported with their value", "[repair]") {
    auto out = repair(ProtocolVersion::v201, "Heartbeat", R"({"vendorUptime":{"s":5}})",
                      allowing({RepairRule::unknown_properties}));
    CHECK_FALSE(out.valid_before);
    CHECK(out.valid_after);
    CHECK(out.payload == json::object());
    REQUIRE(out.repairs.size() == 1);
    CHECK(out.repairs[0].rule == RepairRule::unknown_properties);
    CHECK(out.repairs[0].path == "/vendorUptime");
    CHECK(out.repairs[0].from == json{{"s", 5}});
    CHECK_FALSE(out.repairs[0].to.has_value());
}

TEST_CASE("nested 2.0.1 objects are reached through their definitions", "[repair]") {
    auto out = repair(ProtocolVersion::v201, "BootNotification",
                      R"({"reason":"power_up","chargingStation":{"model":"M","vendorName":"V","colour":"red"}})",
                      allowing({RepairRule::enum_case, RepairRule::unknown_properties}));
    CHECK_FALSE(out.valid_before);
    CHECK(out.valid_after);
    CHECK(out.payload["reason"] == "PowerUp");
    CHECK_FALSE(out.payload["chargingStation"].contains("colour"));
    CHECK(out.repairs.size() == 2);
}

TEST_CASE("numbers and strings are exchanged only where the schema asks for the other", "[repair]") {
    auto out = repair(ProtocolVersion::v16, "MeterValues",
                      R"({"connectorId":"1","meterValue":[{"timestamp":"2026-12-01T10:00:00Z",)"
                      R"("sampledValue":[{"value":12.5}]}]})",
                      allowing({RepairRule::number_as_string, RepairRule::string_as_number}));
    CHECK(out.valid_after);
    CHECK(out.payload["connectorId"] == 1);
    CHECK(out.payload["meterValue"][0]["sampledValue"][0]["value"] == "12.5");
    auto fraction = repair(ProtocolVersion::v16, "StatusNotification",
                           R"({"connectorId":"1.5","errorCode":"NoError","status":"Available"})",
                           allowing({RepairRule::number_as_string}));
    CHECK(fraction.repairs.empty());  // an integer is wanted
    auto padded = repair(ProtocolVersion::v16, "StatusNotification",
                         R"({"connectorId":" 1","errorCode":"NoError","status":"Available"})",
                         allowing({RepairRule::number_as_string}));
    CHECK(padded.repairs.empty());
}

TEST_CASE("a number whose digits parsing lost is not made a string", "[repair]") {
    const auto meter = [](const char* value) {
        return std::string(R"({"connectorId":1,"meterValue":[{"timestamp":"2026-12-01T10:00:00Z",)"
                           R"("sampledValue":[{"value":)") +
               value + "}]}]}";
    };
    // Past 2^64 an integer is read as a float: written back it would be "1e+20", not what was sent.
    auto huge = repair(ProtocolVersion::v16, "MeterValues", meter("100000000000000000001").c_str(),
                       allowing({RepairRule::string_as_number}));
    CHECK(huge.repairs.empty());
    CHECK_FALSE(huge.valid_after);  // refused by the validator, as without the rule
    // Up to 2^64 it stays an integer, exact; a float below 2^53 keeps its value.
    auto big = repair(ProtocolVersion::v16, "MeterValues", meter("18446744073709551615").c_str(),
                      allowing({RepairRule::string_as_number}));
    CHECK(big.valid_after);
    CHECK(big.payload["meterValue"][0]["sampledValue"][0]["value"] == "18446744073709551615");
    // The other way, a string past 2^64 where a number is wanted is not read as 1e20 either.
    const auto meter201 = [](const char* value) {
        return std::string(R"({"evseId":1,"meterValue":[{"timestamp":"2026-12-01T10:00:00Z",)"
                           R"("sampledValue":[{"value":")") +
               value + "\"}]}]}";
    };
    auto digits = repair(ProtocolVersion::v201, "MeterValues", meter201("100000000000000000001").c_str(),
                         allowing({RepairRule::number_as_string}));
    CHECK(digits.repairs.empty());
    CHECK_FALSE(digits.valid_after);
    auto kept = repair(ProtocolVersion::v201, "MeterValues", meter201("18446744073709551615").c_str(),
                       allowing({RepairRule::number_as_string}));
    CHECK(kept.valid_after);
    CHECK(kept.payload["meterValue"][0]["sampledValue"][0]["value"] == 18446744073709551615ULL);
    auto fraction = repair(ProtocolVersion::v16, "MeterValues", meter("1234567.25").c_str(),
                           allowing({RepairRule::string_as_number}));
    CHECK(fraction.valid_after);
    CHECK(fraction.payload["meterValue"][0]["sampledValue"][0]["value"] == "1234567.25");
}

TEST_CASE("empty optional strings are removed, required ones are not", "[repair]") {
    auto out = repair(ProtocolVersion::v16, "StatusNotification",
                      R"({"connectorId":1,"errorCode":"NoError","status":"Available","timestamp":"",)"
                      R"("vendorErrorCode":""})",
                      allowing({RepairRule::empty_optional}));
    CHECK_FALSE(out.valid_before);
    CHECK(out.valid_after);
    CHECK_FALSE(out.payload.contains("timestamp"));
    CHECK(out.payload["vendorErrorCode"] == "");  // a plain optional string may be empty
    auto required = repair(ProtocolVersion::v16, "StatusNotification",
                           R"({"connectorId":1,"errorCode":"NoError","status":""})",
                           allowing({RepairRule::empty_optional}));
    CHECK(required.repairs.empty());
}

TEST_CASE("UTC offsets are read as minutes east", "[repair]") {
    CHECK(ocpp::parse_utc_offset("+01:00") == 60);
    CHECK(ocpp::parse_utc_offset("-05:30") == -330);
    CHECK(ocpp::parse_utc_offset("Z") == 0);
    CHECK_FALSE(ocpp::parse_utc_offset("+1"));
    CHECK_FALSE(ocpp::parse_utc_offset("+24:00"));
}
