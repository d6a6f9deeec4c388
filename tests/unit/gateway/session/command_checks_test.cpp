#include <catch2/catch.hpp>

#include "gateway/session/command_checks.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;
using namespace kafka_bridge;
using gateway::session::answer_outcome;
using gateway::session::check_action_exists;
using gateway::session::check_command;

namespace {

const ocpp::SchemaRegistry& registry() {
    static const ocpp::SchemaRegistry schemas;
    return schemas;
}

}  // namespace

TEST_CASE("an action no OCPP version has the central system send is refused before the version is known", "[commands]") {
    Command c;
    c.command_id = "c";
    c.station_id = "CS-1";
    c.payload = json::object();
    for (const char* known : {"RemoteStartTransaction", "RequestStartTransaction", "Reset",
                              "AFRRSignal"}) {
        c.action = known;
        CHECK_FALSE(check_action_exists(registry(), c));  // in 1.6, 2.0.1 or 2.1 only
    }
    for (const char* unknown : {"Resett", "Heartbeat", "reset", ""}) {
        c.action = unknown;
        const auto refused = check_action_exists(registry(), c);
        REQUIRE(refused);
        CHECK(refused->status == CommandStatus::rejected);
        CHECK(refused->error_code == "UnknownAction");
        CHECK_FALSE(refused->version);
    }
}

TEST_CASE("a command is checked against the station's version", "[commands]") {
    Command c;
    c.command_id = "c";
    c.station_id = "CS-1";
    c.action = "RemoteStartTransaction";
    c.payload = {{"idTag", "TAG-1"}};
    CHECK_FALSE(check_command(registry(), ProtocolVersion::v16, c));

    // Exists only in the other version.
    const auto unknown = check_command(registry(), ProtocolVersion::v201, c);
    REQUIRE(unknown);
    CHECK(unknown->status == CommandStatus::rejected);
    CHECK(unknown->error_code == "UnknownAction");

    // A station-initiated action is not a command.
    c.action = "Heartbeat";
    c.payload = json::object();
    const auto wrong_direction = check_command(registry(), ProtocolVersion::v16, c);
    REQUIRE(wrong_direction);
    CHECK(wrong_direction->error_code == "UnknownAction");

    c.action = "Reset";
    c.payload = {{"type", "Sideways"}};
    const auto invalid = check_command(registry(), ProtocolVersion::v16, c);
    REQUIRE(invalid);
    CHECK(invalid->error_code == "InvalidPayload");
    REQUIRE(invalid->violations.size() == 1);
    CHECK(invalid->violations[0].path == "/type");
}


TEST_CASE("a station's answer is reported, with its violations when it breaks the schema", "[commands]") {
    const auto good = answer_outcome(registry(), ProtocolVersion::v16, "Reset", {{"status", "Accepted"}});
    CHECK(good.status == CommandStatus::completed);
    CHECK(good.response_violations.empty());
    const auto bad = answer_outcome(registry(), ProtocolVersion::v16, "Reset", {{"status", "Maybe"}});
    CHECK(bad.status == CommandStatus::completed);
    CHECK(bad.response == json{{"status", "Maybe"}});
    CHECK_FALSE(bad.response_violations.empty());
    CHECK_FALSE(bad.response_repairs);
}

TEST_CASE("an invalid answer under a tolerance profile also says what its repairs make of it", "[commands][tolerance]") {
    gateway::config::ToleranceProfile profile;
    profile.name = "old-firmware";
    profile.policy.allow(ocpp::RepairRule::enum_case);
    const auto lower = answer_outcome(registry(), ProtocolVersion::v16, "Reset", {{"status", "accepted"}}, &profile);
    CHECK(lower.response == json{{"status", "accepted"}});  // reported as sent
    CHECK_FALSE(lower.response_violations.empty());         // and still held to the schema
    REQUIRE(lower.response_repairs);
    CHECK((*lower.response_repairs)["profile"] == "old-firmware");
    CHECK((*lower.response_repairs)["repaired"] == json{{"status", "Accepted"}});
    CHECK((*lower.response_repairs)["valid"] == true);
    CHECK((*lower.response_repairs)["repairs"] ==
          json::parse(R"([{"rule":"enum-case","path":"/status","from":"accepted","to":"Accepted"}])"));
    // Nothing the profile allows applies: no report.
    CHECK_FALSE(answer_outcome(registry(), ProtocolVersion::v16, "Reset", {{"status", "Maybe"}}, &profile).response_repairs);
    // A valid answer is never repaired.
    CHECK_FALSE(answer_outcome(registry(), ProtocolVersion::v16, "Reset", {{"status", "Accepted"}}, &profile).response_repairs);
}


TEST_CASE("a station not accepted at boot gets only what OCPP allows", "[commands]") {
    using gateway::session::check_boot_state;
    Command c;
    c.command_id = "c";
    c.station_id = "CS-1";
    auto verdict = [&c](ProtocolVersion v, const char* action, bool pending, bool rejected) {
        c.action = action;
        return check_boot_state(v, pending, rejected, c);
    };
    // Accepted (or never booted on this connection): everything.
    CHECK_FALSE(verdict(ProtocolVersion::v16, "RemoteStartTransaction", false, false));
    CHECK_FALSE(verdict(ProtocolVersion::v201, "RequestStartTransaction", false, false));
    // Pending: look and configure, no charging.
    CHECK_FALSE(verdict(ProtocolVersion::v16, "ChangeConfiguration", true, false));
    CHECK_FALSE(verdict(ProtocolVersion::v16, "TriggerMessage", true, false));
    CHECK_FALSE(verdict(ProtocolVersion::v201, "SetVariables", true, false));
    CHECK_FALSE(verdict(ProtocolVersion::v201, "GetBaseReport", true, false));
    const auto start16 = verdict(ProtocolVersion::v16, "RemoteStartTransaction", true, false);
    REQUIRE(start16);
    CHECK(start16->status == CommandStatus::rejected);
    CHECK(start16->error_code == "NotAccepted");
    CHECK_FALSE(start16->sent);
    CHECK(verdict(ProtocolVersion::v16, "Reset", true, false));
    CHECK(verdict(ProtocolVersion::v201, "RequestStopTransaction", true, false));
    // Rejected: nothing at all.
    CHECK(verdict(ProtocolVersion::v16, "GetConfiguration", false, true));
    CHECK(verdict(ProtocolVersion::v201, "GetVariables", false, true)->error_code == "NotAccepted");
}

TEST_CASE("the heartbeat interval a station agrees to in an operator's command is known", "[commands]") {
    using gateway::session::heartbeat_interval_agreed;
    using std::chrono::seconds;
    Command change;
    change.action = "ChangeConfiguration";
    change.payload = json{{"key", "HeartbeatInterval"}, {"value", "900"}};
    const json accepted = {{"status", "Accepted"}};
    CHECK(heartbeat_interval_agreed(ProtocolVersion::v16, change, accepted) == seconds(900));
    change.payload["key"] = "heartbeatinterval";  // firmware spells keys its own way
    CHECK(heartbeat_interval_agreed(ProtocolVersion::v16, change, accepted) == seconds(900));
    for (const char* status : {"Rejected", "RebootRequired", "NotSupported"}) {
        CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v16, change, json{{"status", status}}));
    }
    for (const char* value : {"", "0", "15m", "-5", "1.5", "99999999999999999999", "604801"}) {
        change.payload["value"] = value;
        CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v16, change, accepted));
    }
    change.payload = json{{"key", "MeterValueSampleInterval"}, {"value", "900"}};
    CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v16, change, accepted));

    Command set;
    set.action = "SetVariables";
    const json heartbeat = {{"component", {{"name", "OCPPCommCtrlr"}}}, {"variable", {{"name", "HeartbeatInterval"}}}};
    const json sampling = {{"component", {{"name", "SampledDataCtrlr"}}}, {"variable", {{"name", "TxUpdatedInterval"}}}};
    auto asked = [](json entry, const char* value) { entry["attributeValue"] = value; return entry; };
    auto result = [](json entry, const char* status) { entry["attributeStatus"] = status; return entry; };
    set.payload = {{"setVariableData", json::array({asked(sampling, "60"), asked(heartbeat, "1200")})}};
    const json both = {{"setVariableResult", json::array({result(sampling, "Accepted"), result(heartbeat, "Accepted")})}};
    for (const auto version : {ProtocolVersion::v201, ProtocolVersion::v21}) {
        CHECK(heartbeat_interval_agreed(version, set, both) == seconds(1200));
    }
    const json refused = {{"setVariableResult", json::array({result(sampling, "Accepted"), result(heartbeat, "Rejected")})}};
    CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v201, set, refused));
    json target = heartbeat;
    target["attributeType"] = "Target";  // not the value the station runs on
    set.payload = {{"setVariableData", json::array({asked(target, "1200")})}};
    CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v201, set,
                                          json{{"setVariableResult", json::array({result(target, "Accepted")})}}));
    set.action = "ChangeConfiguration";  // not a 2.0.1 action
    CHECK_FALSE(heartbeat_interval_agreed(ProtocolVersion::v201, set, both));
}
