#include <catch2/catch.hpp>

#include "event_schemas.hpp"
#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/envelope.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;
using namespace kafka_bridge;

namespace {

constexpr std::int64_t kRecordTime = 1'780'000'000'000;  // 2026-05-28
const CommandDefaults kDefaults{std::chrono::milliseconds(30000), std::chrono::milliseconds(120000)};

ocpp::Result<Command, CommandProblem> parse(const std::string& value,
                                            std::optional<std::string> key = std::string("CS-1")) {
    return parse_command(key, value, kRecordTime, "2026-05-28T10:00:00.000Z", kDefaults);
}

const ocpp::SchemaRegistry& registry() {
    static const ocpp::SchemaRegistry schemas;
    return schemas;
}

}  // namespace

TEST_CASE("a command record is read with its defaults", "[commands]") {
    const auto c = parse(R"({"commandId":"c-1","stationId":"CS-1","action":"Reset","payload":{"type":"Hard"}})");
    REQUIRE(c.ok());
    CHECK(c.value().command_id == "c-1");
    CHECK(c.value().station_id == "CS-1");
    CHECK(c.value().action == "Reset");
    CHECK(c.value().payload == json{{"type", "Hard"}});
    CHECK(c.value().timeout == std::chrono::milliseconds(30000));
    // Without expiresAt: the record's timestamp plus the maximum age.
    CHECK(c.value().expires_at_ms == kRecordTime + 120000);
    CHECK(c.value().received_at == "2026-05-28T10:00:00.000Z");
}

TEST_CASE("a command's timeoutMs and expiresAt are honoured", "[commands]") {
    const auto c = parse(R"({"commandId":"c-1","stationId":"cs-1","action":"Reset","payload":{},
                             "timeoutMs":1500,"expiresAt":"2026-05-28T12:00:00.250+02:00"})");
    REQUIRE(c.ok());
    CHECK(c.value().timeout == std::chrono::milliseconds(1500));
    CHECK(c.value().expires_at_ms == *parse_time_ms("2026-05-28T10:00:00.250Z"));
}

TEST_CASE("bad command records name their problem, keeping a readable commandId", "[commands]") {
    struct Case {
        const char* value;
        bool has_id;
        const char* reason_part;
    };
    const Case cases[] = {
        {"not json", false, "not a JSON object"},
        {"[1,2]", false, "not a JSON object"},
        {R"({"stationId":"CS-1","action":"Reset","payload":{}})", false, "commandId is missing"},
        {R"({"commandId":"","stationId":"CS-1","action":"Reset","payload":{}})", false, "1 to 128"},
        {R"({"commandId":7,"stationId":"CS-1","action":"Reset","payload":{}})", false, "1 to 128"},
        {R"({"commandId":"c","action":"Reset","payload":{}})", true, "stationId"},
        {R"({"commandId":"c","stationId":"CS-1","payload":{}})", true, "action"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset"})", true, "payload"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":[]})", true, "payload"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{},"timeoutMs":0})", true, "timeoutMs"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{},"timeoutMs":600001})", true, "timeoutMs"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{},"timeoutMs":1.5})", true, "timeoutMs"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{},"expiresAt":"tomorrow"})", true, "expiresAt"},
        {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{},"timeoutMS":10})", true, "unknown field \"timeoutMS\""},
        {R"({"commandId":"c","stationId":"CS-2","action":"Reset","payload":{}})", true, "record key"},
    };
    for (const auto& c : cases) {
        INFO(c.value);
        const auto parsed = parse(c.value);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().command_id.has_value() == c.has_id);
        CHECK_THAT(parsed.error().reason, Catch::Contains(c.reason_part));
    }
    const auto long_id = parse(json{{"commandId", std::string(129, 'x')}, {"stationId", "CS-1"},
                                    {"action", "Reset"}, {"payload", json::object()}}.dump());
    REQUIRE_FALSE(long_id.ok());
    CHECK_FALSE(long_id.error().command_id);
    // No key: the stationId alone names the station.
    CHECK(parse(R"({"commandId":"c","stationId":"CS-2","action":"Reset","payload":{}})", std::nullopt).ok());
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
}

TEST_CASE("result records follow their schema for every status", "[commands]") {
    const test_support::EventSchema schema("command-result.schema.json");
    CommandOutcome completed = answer_outcome(registry(), ProtocolVersion::v201, "Reset",
                                              {{"status", "Scheduled"}});
    completed.message_id = "m-1";
    completed.sent_at = "2026-05-28T10:00:00.010Z";
    CommandOutcome call_error;
    call_error.status = CommandStatus::call_error;
    call_error.sent = true;
    call_error.error_code = "NotImplemented";
    call_error.error_description = "no";
    call_error.error_details = json{{"why", "firmware"}};
    call_error.message_id = "m-2";
    call_error.sent_at = "2026-05-28T10:00:00.010Z";
    Command bad;
    bad.action = "Reset";
    bad.payload = {{"type", 3}};
    auto rejected = *check_command(registry(), ProtocolVersion::v16, bad);
    CommandOutcome not_connected;
    not_connected.status = CommandStatus::not_connected;
    not_connected.error_code = "StationNotConnected";
    not_connected.error_description = "nowhere";
    for (const auto* o : {&completed, &call_error, &rejected, &not_connected}) {
        const std::string record = command_result("c-1", "CS-1", "Reset", "2026-05-28T10:00:00.000Z",
                                                  *o, "gw-a", "2026-05-28T10:00:00.020Z");
        INFO(record);
        CHECK(schema.violations(record).empty());
        const auto value = json::parse(record);
        CHECK(value["status"] == command_status_name(o->status));
        CHECK(value["gatewayId"] == "gw-a");
        CHECK(value.contains("response") == (o->status == CommandStatus::completed));
        CHECK(value.contains("error") == (o->status != CommandStatus::completed));
    }
    const auto value = json::parse(command_result("c", "CS-1", "Reset", "2026-05-28T10:00:00.000Z",
                                                  call_error, "gw", "2026-05-28T10:00:00.020Z"));
    CHECK(value["error"] == json{{"code", "NotImplemented"}, {"description", "no"}, {"details", {{"why", "firmware"}}}});
}

TEST_CASE("a route record carries the whole command", "[commands]") {
    const test_support::EventSchema schema("command-route.schema.json");
    Command c;
    c.command_id = "c-9";
    c.station_id = "CS-1";
    c.action = "Reset";
    c.payload = {{"type", "Soft"}};
    c.timeout = std::chrono::milliseconds(4000);
    c.expires_at_ms = kRecordTime;
    c.received_at = "2026-05-28T10:00:00.000Z";
    c.origin = "gw-a";
    c.hop = 2;
    const std::string record = command_route(CommandRoute{c, "gw-b", std::nullopt});
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto back = parse_command_route(record);
    REQUIRE(back.ok());
    CHECK(back.value().target == "gw-b");
    CHECK_FALSE(back.value().result);
    CHECK(back.value().command.command_id == "c-9");
    CHECK(back.value().command.payload == c.payload);
    CHECK(back.value().command.timeout == c.timeout);
    CHECK(back.value().command.expires_at_ms == kRecordTime);
    CHECK(back.value().command.origin == "gw-a");
    CHECK(back.value().command.hop == 2);
    CHECK_FALSE(parse_command_route(R"({"commandId":"x"})").ok());
    // Numbers out of range are refused, never converted (a double like 1e300 is no integer).
    auto bad = json::parse(record);
    bad["timeoutMs"] = 1e300;
    CHECK_FALSE(parse_command_route(bad.dump()).ok());
    bad = json::parse(record);
    bad["hop"] = -3;
    CHECK_FALSE(parse_command_route(bad.dump()).ok());
    // A result travels only with a decision made at intake (no target).
    bad = json::parse(record);
    bad["result"] = json::object({{"commandId", "c-9"}});
    CHECK_FALSE(parse_command_route(bad.dump()).ok());
}

TEST_CASE("a route decided at intake carries its result record", "[commands]") {
    const test_support::EventSchema schema("command-route.schema.json");
    Command c;
    c.command_id = "c-10";
    c.station_id = "CS-1";
    c.action = "Reset";
    c.payload = {{"type", "Soft"}};
    c.expires_at_ms = kRecordTime;
    c.received_at = "2026-05-28T10:00:00.000Z";
    c.origin = "gw-a";
    CommandOutcome o;
    o.status = CommandStatus::not_connected;
    o.error_code = "StationNotConnected";
    o.error_description = "nowhere";
    const std::string result = command_result("c-10", "CS-1", "Reset", c.received_at, o, "gw-a",
                                              "2026-05-28T10:00:00.020Z");
    const std::string record = command_route(CommandRoute{c, "", result});
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto back = parse_command_route(record);
    REQUIRE(back.ok());
    CHECK(back.value().target.empty());
    REQUIRE(back.value().result);
    CHECK(json::parse(*back.value().result) == json::parse(result));
    auto bad = json::parse(record);
    bad["result"] = "Completed";
    CHECK_FALSE(parse_command_route(bad.dump()).ok());
}

TEST_CASE("the presence table follows connections, epochs and instance liveness", "[commands]") {
    const test_support::EventSchema schema("presence.schema.json");
    PresenceTable table(std::chrono::milliseconds(10000));
    const std::int64_t t0 = kRecordTime;
    auto station = [](const std::string& gw, bool connected, std::int64_t epoch) {
        Presence p;
        p.station_id = "CS-1";
        p.gateway_id = gw;
        p.connected = connected;
        p.epoch = epoch;
        p.session_id = "s";
        p.version = ProtocolVersion::v16;
        p.since = "2026-05-28T10:00:00.000Z";
        p.at = "2026-05-28T10:00:00.000Z";
        return p;
    };
    const std::string alive_a = gateway_record("gw-a", true, "2026-05-28T10:00:00.000Z");
    const std::string alive_b = gateway_record("gw-b", true, "2026-05-28T10:00:00.000Z");
    CHECK(schema.violations(alive_a).empty());
    REQUIRE(table.apply(gateway_key("gw-a"), alive_a, 0, t0));
    REQUIRE(table.apply(gateway_key("gw-b"), alive_b, 1, t0));

    const std::string on_a = presence_record(station("gw-a", true, -1));
    CHECK(schema.violations(on_a).empty());
    PresenceTable::Change change;
    REQUIRE(table.apply(presence_key("CS-1"), on_a, 10, t0, &change));
    REQUIRE(change.connected);
    CHECK(change.connected->epoch == 10);  // the record's own offset
    REQUIRE(table.holder("cs-1", t0 + 1000));
    CHECK(table.holder("cs-1", t0 + 1000)->gateway_id == "gw-a");

    // A newer connection on gw-b, then gw-a's late Disconnected for the older one: gw-b stays.
    REQUIRE(table.apply(presence_key("CS-1"), presence_record(station("gw-b", true, -1)), 12, t0));
    const std::string late = presence_record(station("gw-a", false, 10));
    CHECK(schema.violations(late).empty());
    REQUIRE(table.apply(presence_key("CS-1"), late, 13, t0));
    REQUIRE(table.holder("CS-1", t0 + 1000));
    CHECK(table.holder("CS-1", t0 + 1000)->gateway_id == "gw-b");
    CHECK(table.holder("CS-1", t0 + 1000)->epoch == 12);

    // gw-b falls silent: its stations count as connected nowhere.
    CHECK_FALSE(table.holder("CS-1", t0 + 10000));
    CHECK(table.last("CS-1")->connected);
    CHECK(table.connected(t0 + 10000).empty());
    REQUIRE(table.apply(gateway_key("gw-b"), alive_b, 2, t0 + 9000));
    CHECK(table.holder("CS-1", t0 + 10000));

    // gw-b ends the connection it holds.
    REQUIRE(table.apply(presence_key("CS-1"), presence_record(station("gw-b", false, 12)), 14, t0));
    CHECK_FALSE(table.holder("CS-1", t0 + 1000));
    CHECK(table.held_by("gw-b").empty());

    // A stopped instance is gone at once.
    REQUIRE(table.apply(presence_key("CS-1"), presence_record(station("gw-a", true, -1)), 15, t0));
    REQUIRE(table.apply(gateway_key("gw-a"), gateway_record("gw-a", false, "x"), 3, t0));
    CHECK_FALSE(table.holder("CS-1", t0 + 1));
    CHECK(table.held_by("gw-a").size() == 1);

    CHECK_FALSE(table.apply(presence_key("CS-2"), std::string("{broken"), 16, t0));
    CHECK_FALSE(table.apply(presence_key("CS-2"),
                            std::string(R"({"stationId":"CS-2","gatewayId":"gw-a","state":"Connected","epoch":1e300})"),
                            16, t0));
    REQUIRE(table.apply(presence_key("CS-1"), std::nullopt, 17, t0));
    CHECK_FALSE(table.last("CS-1"));
}

TEST_CASE("command ids are remembered within a window and a capacity", "[commands]") {
    SeenCommands seen(3, std::chrono::milliseconds(1000));
    CHECK(seen.insert("a", 0));
    CHECK_FALSE(seen.insert("a", 10));
    CHECK(seen.insert("b", 20));
    CHECK(seen.insert("c", 30));
    CHECK(seen.insert("d", 40));  // over capacity: "a" is forgotten
    CHECK_FALSE(seen.contains("a"));
    CHECK(seen.contains("d"));
    CHECK(seen.insert("e", 1031));  // "b" and "c" are older than the window
    CHECK_FALSE(seen.contains("b"));
    CHECK_FALSE(seen.contains("c"));
    CHECK(seen.contains("d"));
}

TEST_CASE("RFC 3339 times convert to Unix milliseconds and back", "[commands]") {
    CHECK(parse_time_ms("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_time_ms("2026-05-28T10:00:00.5Z") == parse_time_ms("2026-05-28T10:00:00.500Z"));
    CHECK(parse_time_ms("2026-05-28T12:30:00+02:30") == parse_time_ms("2026-05-28T10:00:00Z"));
    CHECK(parse_time_ms("2026-05-28T07:00:00-03:00") == parse_time_ms("2026-05-28T10:00:00Z"));
    CHECK_FALSE(parse_time_ms("2026-02-30T10:00:00Z"));
    CHECK_FALSE(parse_time_ms("2026-05-28 10:00:00"));
    CHECK(format_time_ms(*parse_time_ms("2026-05-28T10:00:00.123Z")) == "2026-05-28T10:00:00.123Z");
}

TEST_CASE("command records without a usable id go to the dead-letter topic in its schema", "[commands]") {
    const test_support::EventSchema schema("dead-letter.schema.json");
    const std::string raw = "\xff\xfe not json";
    CommandLetter letter{raw, "ocpp.commands", 2, 41, std::string("CS-1"), "the record value is not a JSON object"};
    const std::string record = command_dead_letter(letter, "gw-a", "2026-05-28T10:00:00.000Z");
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto value = json::parse(record);
    CHECK(value["source"] == "command");
    CHECK(value["rawEncoding"] == "base64");
    CHECK(value["offset"] == 41);
}
