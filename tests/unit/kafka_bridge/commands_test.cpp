#include <catch2/catch.hpp>

#include "event_schemas.hpp"
#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/envelope.hpp"

#include <cstdio>
#include <ctime>
#include <set>
#include <vector>

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


/// A Soft Reset for CS-1 decided by gw-a, as a route carries it.
Command routed_reset(const std::string& command_id) {
    Command c;
    c.command_id = command_id;
    c.station_id = "CS-1";
    c.action = "Reset";
    c.payload = {{"type", "Soft"}};
    c.expires_at_ms = kRecordTime;
    c.received_at = "2026-05-28T10:00:00.000Z";
    c.origin = "gw-a";
    return c;
}

/// The result record of `c` ending NotConnected with `code`, as instance `gateway` writes it.
std::string not_connected_result(const Command& c, const std::string& code,
                                 const std::string& gateway) {
    CommandOutcome o;
    o.status = CommandStatus::not_connected;
    o.error_code = code;
    o.error_description = "nowhere";
    o.sent = code == "GatewayUnavailable";
    return command_result(c.command_id, c.station_id, c.action, c.received_at, o, gateway,
                          "2026-05-28T10:00:00.020Z");
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
    // A payload nested past the bound (it would crash whoever copies it) is named as such.
    const auto deep = parse(R"({"commandId":"c","stationId":"CS-1","action":"DataTransfer","payload":{"data":)" +
                            std::string(300'000, '[') + std::string(300'000, ']') + "}}");
    REQUIRE_FALSE(deep.ok());
    CHECK(deep.error().reason == "the record value is not a JSON object: nested deeper than 1024 levels");
    const auto long_id = parse(json{{"commandId", std::string(129, 'x')}, {"stationId", "CS-1"},
                                    {"action", "Reset"}, {"payload", json::object()}}.dump());
    REQUIRE_FALSE(long_id.ok());
    CHECK_FALSE(long_id.error().command_id);
    // Characters, not bytes: 128 of two bytes each is an id.
    std::string wide;
    for (int i = 0; i < 128; ++i) {
        wide += "\xC3\xA9";
    }
    CHECK(parse(json{{"commandId", wide}, {"stationId", "CS-1"}, {"action", "Reset"}, {"payload", json::object()}}.dump()).ok());
    // No key: the stationId alone names the station.
    CHECK(parse(R"({"commandId":"c","stationId":"CS-2","action":"Reset","payload":{}})", std::nullopt).ok());
}

TEST_CASE("a payload larger than a frame may be is refused at intake, naming its size", "[commands]") {
    CommandDefaults small = kDefaults;
    small.max_payload_bytes = 64;
    const json fits = {{"vendorId", "v"}, {"data", std::string(38, 'x')}};        // 64 bytes
    const json over = {{"vendorId", "v"}, {"data", std::string(39, 'x')}};        // 65 bytes
    auto record = [](const json& payload) {
        return json{{"commandId", "c"}, {"stationId", "CS-1"}, {"action", "DataTransfer"}, {"payload", payload}}.dump();
    };
    CHECK(parse_command(std::string("CS-1"), record(fits), kRecordTime, "2026-05-28T10:00:00.000Z", small).ok());
    const auto refused = parse_command(std::string("CS-1"), record(over), kRecordTime, "2026-05-28T10:00:00.000Z", small);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().command_id == std::optional<std::string>("c"));
    CHECK(refused.error().reason == "the payload is 65 bytes of JSON; a command may carry 64 (limits.max_message_bytes, less room "
                                    "for the records that carry it on)");
}

TEST_CASE("a command record whose key is not UTF-8 gets a result, not a crash", "[commands]") {
    // Latin-1 "Ladesäule" as the key: named in the reason, and the station when the record
    // names none.
    for (const char* value : {R"({"commandId":"c","stationId":"CS-1","action":"Reset","payload":{}})",
                              R"({"commandId":"c","action":"Reset","payload":{}})"}) {
        INFO(value);
        const auto parsed = parse(value, std::string("Lades\xe4ule"));
        REQUIRE_FALSE(parsed.ok());
        const auto& problem = parsed.error();
        REQUIRE(problem.command_id == std::optional<std::string>("c"));
        const auto outcome = CommandOutcome::failure(CommandError::invalid_command, problem.reason);
        std::string record;
        REQUIRE_NOTHROW(record = command_result(*problem.command_id, problem.station_id, problem.action,
                                                "2026-05-28T10:00:00.000Z", outcome, "gw-a",
                                                "2026-05-28T10:00:00.020Z"));
        const auto read = json::parse(record);
        CHECK(read["status"] == "Rejected");
        // The key, its byte that is not UTF-8 replaced: in the reason, or as the station.
        CHECK_THAT(record, Catch::Contains("Lades\xEF\xBF\xBDule"));
    }
}

TEST_CASE("result records follow their schema for every status", "[commands]") {
    const test_support::EventSchema schema("command-result.schema.json");
    CommandOutcome completed;
    completed.response = json{{"status", "Scheduled"}};
    completed.sent = true;
    completed.version = ProtocolVersion::v201;
    completed.message_id = "m-1";
    completed.sent_at = "2026-05-28T10:00:00.010Z";
    CommandOutcome call_error =
        CommandOutcome::station_error("NotImplemented", "no", json{{"why", "firmware"}});
    call_error.message_id = "m-2";
    call_error.sent_at = "2026-05-28T10:00:00.010Z";
    auto rejected = CommandOutcome::failure(CommandError::invalid_payload, "type must be a string");
    rejected.violations = {ocpp::Violation{ocpp::Errc::type_violation, "/type", "is not a string"}};
    auto not_connected = CommandOutcome::failure(CommandError::station_not_connected, "nowhere");
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

TEST_CASE("a route names the runs of its target and origin, when known", "[commands]") {
    const test_support::EventSchema schema("command-route.schema.json");
    const Command c = routed_reset("c-11");
    CommandRoute route{c, "gw-b", std::nullopt};
    route.target_run = 1'780'000'000'123;
    route.origin_run = 7;
    const std::string record = command_route(route);
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto back = parse_command_route(record);
    REQUIRE(back.ok());
    CHECK(back.value().target_run == 1'780'000'000'123);
    CHECK(back.value().origin_run == 7);
    // Unknown runs are left out, and read back as 0 (records of earlier versions too).
    const std::string without = command_route(CommandRoute{c, "gw-b", std::nullopt});
    CHECK(json::parse(without).count("targetRun") == 0);
    CHECK(json::parse(without).count("originRun") == 0);
    REQUIRE(parse_command_route(without).ok());
    CHECK(parse_command_route(without).value().target_run == 0);
    CHECK(parse_command_route(without).value().origin_run == 0);
    for (const json& wrong : {json(0), json(-4), json(1.5), json("7")}) {
        auto bad = json::parse(record);
        bad["targetRun"] = wrong;
        const auto refused = parse_command_route(bad.dump());
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == "targetRun must be a positive integer");
        bad = json::parse(record);
        bad["originRun"] = wrong;
        CHECK_FALSE(parse_command_route(bad.dump()).ok());
    }
}

TEST_CASE("a route decided at intake carries its result record", "[commands]") {
    const test_support::EventSchema schema("command-route.schema.json");
    const Command c = routed_reset("c-10");
    const std::string result = not_connected_result(c, "StationNotConnected", "gw-a");
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

TEST_CASE("a claim to end a decision names its number and carries the result", "[commands]") {
    const test_support::EventSchema schema("command-route.schema.json");
    const Command c = routed_reset("c-12");
    const std::string result = not_connected_result(c, "GatewayUnavailable", "gw-c");
    CommandRoute claim{c, "", result};
    claim.ends = 2;
    const std::string record = command_route(claim);
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto back = parse_command_route(record);
    REQUIRE(back.ok());
    CHECK(back.value().ends == 2);
    REQUIRE(back.value().result);
    // A decision names none, and reads back as 0.
    const std::string decision = command_route(CommandRoute{c, "gw-b", std::nullopt});
    CHECK(json::parse(decision).count("ends") == 0);
    REQUIRE(parse_command_route(decision).ok());
    CHECK(parse_command_route(decision).value().ends == 0);
    for (const json& wrong : {json(0), json(-1), json(kafka_bridge::kMaxRouteClaims + 1), json(1.5),
                              json("2")}) {
        auto bad = json::parse(record);
        bad["ends"] = wrong;
        const auto refused = parse_command_route(bad.dump());
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error() == "ends must be 1..1000, on a route that carries a result");
        CHECK_FALSE(schema.violations(bad.dump()).empty());
    }
    // A claim without a result is no claim.
    auto bad = json::parse(decision);
    bad["ends"] = 1;
    CHECK_FALSE(parse_command_route(bad.dump()).ok());
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

TEST_CASE("RFC 3339 times agree with the C library's calendar from year 0 to 9999", "[commands]") {
    // Every day boundary of the leap-year rules, then a spread of times over the whole range.
    std::vector<std::int64_t> times = {0, -1, 86'399'999, 86'400'000, 951'782'400'000,
                                       951'868'799'999, 4'107'542'400'000, 4'107'628'800'000};
    constexpr std::int64_t kYear0 = -62'167'219'200'000;     // 0000-01-01T00:00:00.000Z
    constexpr std::int64_t kYear10000 = 253'402'300'800'000;  // 10000-01-01T00:00:00.000Z
    std::uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200'000; ++i) {
        x ^= x << 13U;
        x ^= x >> 7U;
        x ^= x << 17U;
        const auto span = static_cast<std::uint64_t>(kYear10000 - kYear0);
        times.push_back(kYear0 + static_cast<std::int64_t>(x % span));
    }
    times.push_back(kYear0);
    times.push_back(kYear10000 - 1);
    for (const std::int64_t t : times) {
        const std::int64_t day_ms = ((t % 86'400'000) + 86'400'000) % 86'400'000;
        const std::time_t seconds = static_cast<std::time_t>((t - day_ms) / 1000) + day_ms / 1000;
        std::tm tm{};
        REQUIRE(gmtime_r(&seconds, &tm) != nullptr);
        char expected[64];
        std::snprintf(expected, sizeof(expected), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, static_cast<int>(day_ms % 1000));
        const std::string text = format_time_ms(t);
        REQUIRE(text == expected);
        REQUIRE(parse_time_ms(text) == t);
    }
    // A leap second counts as the second before it; offsets move across days and years.
    CHECK(parse_time_ms("2016-12-31T23:59:60Z") == parse_time_ms("2016-12-31T23:59:59Z"));
    CHECK(format_time_ms(*parse_time_ms("2000-01-01T00:30:00.000+01:00")) ==
          "1999-12-31T23:30:00.000Z");
    CHECK(format_time_ms(*parse_time_ms("2024-02-29T23:00:00.250-02:00")) ==
          "2024-03-01T01:00:00.250Z");
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

TEST_CASE("every command error has one status and one code, all distinct", "[commands]") {
    std::set<std::string_view> codes;
    for (std::size_t i = 0; i < kCommandErrorCount; ++i) {
        const auto e = static_cast<CommandError>(i);
        CHECK(codes.insert(command_error_code(e)).second);
        CHECK(command_error_status(e) != CommandStatus::completed);
        CHECK(command_error_status(e) != CommandStatus::call_error);
        const auto o = CommandOutcome::failure(e, "why");
        CHECK(o.status == command_error_status(e));
        CHECK(o.error_code == command_error_code(e));
        CHECK_FALSE(o.sent);
    }
    CHECK(command_error_status(CommandError::superseded) == CommandStatus::superseded);
    CHECK(command_error_code(CommandError::gateway_unavailable) == "GatewayUnavailable");
    const auto e = CommandOutcome::station_error("NotImplemented", "no", std::nullopt);
    CHECK(e.status == CommandStatus::call_error);
    CHECK(e.sent);
}

TEST_CASE("an expiresAt beyond the duplicate window is refused, so a late replay cannot run",
          "[commands]") {
    // The record was written at 2026-05-28T20:26:40Z: its id is recognised again for 24 h.
    const auto last_ok = parse(R"({"commandId":"c-1","stationId":"CS-1","action":"Reset","payload":{},
                                   "expiresAt":"2026-05-29T20:26:40.000Z"})");
    REQUIRE(last_ok.ok());
    CHECK(last_ok.value().expires_at_ms == kRecordTime + kMaxCommandLifetimeMs);
    const auto too_late = parse(R"({"commandId":"c-1","stationId":"CS-1","action":"Reset","payload":{},
                                    "expiresAt":"2026-05-29T20:26:40.001Z"})");
    REQUIRE_FALSE(too_late.ok());
    CHECK(too_late.error().command_id == std::optional<std::string>("c-1"));
    CHECK_THAT(too_late.error().reason, Catch::Contains("at most 24 h after the command was written"));
}
