#include <catch2/catch.hpp>

#include <string>

#include "event_schemas.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/rfc3339.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;

namespace {

const kafka_bridge::SessionInfo kSession{"CP-1", ProtocolVersion::v201, "gw-a", "s-1"};

}  // namespace

TEST_CASE("station events follow their schema", "[envelope]") {
    const test_support::EventSchema schema("station-event.schema.json");
    const json payload = {{"reason", "PowerUp"},
                          {"chargingStation", {{"model", "M"}, {"vendorName", "V"}}}};
    const json reply = {{"status", "Accepted"}, {"interval", 300}, {"currentTime", "2026-01-01T00:00:00Z"}};
    const std::string record = kafka_bridge::station_event(
        kSession, "BootNotification", ocpp::EventClass::status, "m-1",
        kafka_bridge::now_rfc3339(), 7, payload, reply.dump());
    INFO(record);
    CHECK(schema.violations(record).empty());
    const auto value = json::parse(record);
    CHECK(value["payload"] == payload);
    CHECK(value["reply"] == reply);
    CHECK(value["sequence"] == 7);
    CHECK(value["eventClass"] == "status");
    CHECK(value["ocppVersion"] == "2.0.1");
    CHECK_FALSE(value.contains("decision"));

    SECTION("with the decision the reply carries") {
        const json decision = {{"kind", "boot"}, {"source", "registry"}, {"status", "Accepted"}};
        const std::string decided = kafka_bridge::station_event(
            kSession, "BootNotification", ocpp::EventClass::status, "m-1",
            kafka_bridge::now_rfc3339(), 8, payload, reply.dump(), decision);
        INFO(decided);
        CHECK(schema.violations(decided).empty());
        CHECK(json::parse(decided)["decision"] == decision);
        CHECK_FALSE(schema.violations(kafka_bridge::station_event(
                                          kSession, "BootNotification", ocpp::EventClass::status, "m-1",
                                          kafka_bridge::now_rfc3339(), 8, payload, reply.dump(),
                                          {{"kind", "boot"}, {"source", "guess"}, {"status", "Accepted"}}))
                         .empty());
    }
    SECTION("with the repairs a tolerance profile made, and the raw frame") {
        const std::string raw =
            R"([2,"m-1","BootNotification",{"reason":"power_up","chargingStation":{"model":"M","vendorName":"V","x":"\u00e9\"\n"}}])";
        ocpp::Repaired repaired{"old-firmware", raw,
                                {{ocpp::RepairRule::enum_case, "/reason", "power_up", json("PowerUp")},
                                 {ocpp::RepairRule::unknown_properties, "/chargingStation/x", "\u00e9\"\n", std::nullopt}}};
        const std::string tolerated = kafka_bridge::station_event(
            kSession, "BootNotification", ocpp::EventClass::status, "m-1",
            kafka_bridge::now_rfc3339(), 9, payload, reply.dump(), nullptr, &repaired);
        INFO(tolerated);
        CHECK(schema.violations(tolerated).empty());
        const auto t = json::parse(tolerated);
        CHECK(t["payload"] == payload);
        CHECK(t["tolerance"]["profile"] == "old-firmware");
        CHECK(t["tolerance"]["raw"] == raw);
        CHECK(t["tolerance"]["repairs"] ==
              json::parse(R"([{"rule":"enum-case","path":"/reason","from":"power_up","to":"PowerUp"},)"
                          R"({"rule":"unknown-properties","path":"/chargingStation/x","from":"\u00e9\"\n"}])"));
    }
}

TEST_CASE("event ids are unique, dedup keys follow content", "[envelope]") {
    const json a = json::parse(
        R"({"connectorId":1,"status":"Available","errorCode":"NoError","timestamp":"2026-01-01T00:00:00Z"})");
    const json same_other_order = json::parse(
        R"({"timestamp":"2026-01-01T00:00:00Z","errorCode":"NoError","status":"Available","connectorId":1})");
    const json different = json::parse(
        R"({"connectorId":2,"status":"Available","errorCode":"NoError","timestamp":"2026-01-01T00:00:00Z"})");
    // A time-stamped payload: a resend matches whatever its message id.
    CHECK(kafka_bridge::dedup_key("CP-1", "StatusNotification", "m1", a) ==
          kafka_bridge::dedup_key("CP-1", "StatusNotification", "m2", same_other_order));
    CHECK(kafka_bridge::dedup_key("CP-1", "StatusNotification", "m1", a) !=
          kafka_bridge::dedup_key("CP-1", "StatusNotification", "m1", different));
    CHECK(kafka_bridge::dedup_key("CP-1", "StatusNotification", "m1", a) !=
          kafka_bridge::dedup_key("CP-2", "StatusNotification", "m1", a));
    CHECK(kafka_bridge::new_uuid() != kafka_bridge::new_uuid());

    SECTION("a key is the SHA-256 of id, action and the compact payload: stable across versions") {
        // Computed apart (Python's hashlib over the same text): a resend that reaches an
        // instance of another version must get the same key.
        CHECK(kafka_bridge::dedup_key("CP-1", "StatusNotification", "m1", a) ==
              "746c70e05071a31b3fe9a98a72dd1d766f579701121e7e896ea5d3a3c26fef73");
        CHECK(kafka_bridge::dedup_key("CP-1", "Heartbeat", "m1", json::object()) ==
              "f0d703752e6638dd23923c00f5ea4505ee58ecf81086a69a50d25c215bd4c72f");
        CHECK(kafka_bridge::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    SECTION("event ids are version 4 UUIDs in lowercase hex") {
        for (int i = 0; i < 100; ++i) {
            const std::string id = kafka_bridge::new_uuid();
            REQUIRE(id.size() == 36);
            for (std::size_t k = 0; k < id.size(); ++k) {
                const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
                CHECK((dash ? id[k] == '-' : std::string("0123456789abcdef").find(id[k]) != std::string::npos));
            }
            CHECK(id[14] == '4');
            CHECK(std::string("89ab").find(id[19]) != std::string::npos);
        }
    }

    SECTION("meter values carry their timestamps inside: the payload alone decides") {
        const json mv = json::parse(
            R"({"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1"}]}]})");
        CHECK(kafka_bridge::dedup_key("CP-1", "MeterValues", "m1", mv) ==
              kafka_bridge::dedup_key("CP-1", "MeterValues", "m2", mv));
    }

    SECTION("equal payloads without a moment of their own are told apart by message id") {
        const json heartbeat = json::object();
        const json authorize = {{"idTag", "TAG-1"}};
        CHECK(kafka_bridge::dedup_key("CP-1", "Heartbeat", "m1", heartbeat) !=
              kafka_bridge::dedup_key("CP-1", "Heartbeat", "m2", heartbeat));
        CHECK(kafka_bridge::dedup_key("CP-1", "Authorize", "m1", authorize) !=
              kafka_bridge::dedup_key("CP-1", "Authorize", "m2", authorize));
        // A resend under the same message id is still recognised.
        CHECK(kafka_bridge::dedup_key("CP-1", "Authorize", "m1", authorize) ==
              kafka_bridge::dedup_key("CP-1", "Authorize", "m1", authorize));
    }

    SECTION("a retried TransactionEvent with a new timestamp keeps its key") {
        const json first = {{"eventType", "Updated"}, {"timestamp", "2026-01-01T00:00:00Z"},
                            {"seqNo", 4}, {"transactionInfo", {{"transactionId", "T-9"}}}};
        json retry = first;
        retry["timestamp"] = "2026-01-01T00:00:30Z";
        json next = first;
        next["seqNo"] = 5;
        CHECK(kafka_bridge::dedup_key("CP-1", "TransactionEvent", "m1", first) ==
              kafka_bridge::dedup_key("CP-1", "TransactionEvent", "m2", retry));
        CHECK(kafka_bridge::dedup_key("CP-1", "TransactionEvent", "m1", first) !=
              kafka_bridge::dedup_key("CP-1", "TransactionEvent", "m1", next));
    }
}

TEST_CASE("connection events follow their schema", "[envelope]") {
    const test_support::EventSchema schema("connection-event.schema.json");
    kafka_bridge::ConnectionEvent connected{kafka_bridge::ConnectionEvent::Type::connected,
                                            "127.0.0.1:5000", std::string("ocpp2.0.1"), 0, {}, 0, 0, 0};
    auto record = kafka_bridge::connection_event(kSession, connected, kafka_bridge::now_rfc3339());
    INFO(record);
    CHECK(schema.violations(record).empty());
    CHECK_FALSE(json::parse(record).contains("closeCode"));

    kafka_bridge::ConnectionEvent gone{kafka_bridge::ConnectionEvent::Type::disconnected,
                                       "127.0.0.1:5000", std::nullopt, 0, "pong timeout", 1001, 1234, 9};
    record = kafka_bridge::connection_event(kSession, gone, kafka_bridge::now_rfc3339());
    CHECK(schema.violations(record).empty());
    const auto value = json::parse(record);
    CHECK(value["subprotocol"].is_null());
    CHECK(value["closeCode"] == 1001);
    CHECK(value["messages"] == 9);
}

TEST_CASE("dead letters keep the raw frame, base64 when it is not UTF-8", "[envelope]") {
    const test_support::EventSchema schema("dead-letter.schema.json");
    kafka_bridge::DeadLetter text{"[2,\"a\",\"Nope\",{}]", "unknown action",
                                  std::string("NotImplemented"), "a", std::string("Nope")};
    auto record = kafka_bridge::dead_letter(kSession, text, kafka_bridge::now_rfc3339());
    CHECK(schema.violations(record).empty());
    auto value = json::parse(record);
    CHECK(value["raw"] == "[2,\"a\",\"Nope\",{}]");
    CHECK(value["rawEncoding"] == "utf-8");
    CHECK_FALSE(value.contains("toleranceProfile"));

    text.tolerance_profile = "old-firmware";
    text.station_model = json{{"vendor", "V"}, {"model", "M"}, {"firmware", "1.2"}};
    record = kafka_bridge::dead_letter(kSession, text, kafka_bridge::now_rfc3339());
    CHECK(schema.violations(record).empty());
    CHECK(json::parse(record)["toleranceProfile"] == "old-firmware");
    CHECK(json::parse(record)["stationModel"]["firmware"] == "1.2");

    const std::string bytes = "[2,\"b\",\"X\",{\"v\":\"\xff\xfe\"}]";
    kafka_bridge::DeadLetter binary{bytes, "invalid JSON", std::nullopt, "-1", std::nullopt};
    record = kafka_bridge::dead_letter(kSession, binary, kafka_bridge::now_rfc3339());
    CHECK(schema.violations(record).empty());
    value = json::parse(record);
    CHECK(value["rawEncoding"] == "base64");
    CHECK(value["raw"] == "WzIsImIiLCJYIix7InYiOiL//iJ9XQ==");
    CHECK(value["errorCode"].is_null());
    CHECK(value["rawBytes"] == bytes.size());

    SECTION("huge frames are cut") {
        const std::string big(200 * 1024, 'x');
        kafka_bridge::DeadLetter large{big, "too large", std::string("FormatViolation"), "-1", std::nullopt};
        value = json::parse(kafka_bridge::dead_letter(kSession, large, kafka_bridge::now_rfc3339()));
        CHECK(value["raw"].get<std::string>().size() == kafka_bridge::kMaxDeadLetterRaw);
        CHECK(value["rawBytes"] == big.size());
    }
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds", "[envelope]") {
    const auto now = kafka_bridge::now_rfc3339();
    CHECK(ocpp::is_rfc3339_date_time(now));
    CHECK(now.size() == 24);
    CHECK(now.back() == 'Z');
}

TEST_CASE("gateway security events follow their schema", "[envelope]") {
    const test_support::EventSchema schema("security-event.schema.json");
    for (const auto& station : {std::string("CP-1"), std::string()}) {
        const std::string record = kafka_bridge::security_event(
            {"AuthFailed", station, "192.0.2.7", "wrong password"}, "gw-a", kafka_bridge::now_rfc3339());
        INFO(record);
        CHECK(schema.violations(record).empty());
        const auto value = json::parse(record);
        CHECK(value["source"] == "gateway");
        CHECK(value["stationId"] == (station.empty() ? json(nullptr) : json(station)));
    }
}

TEST_CASE("station events are written as nlohmann would write the same object", "[envelope]") {
    // The record is written directly, without a JSON tree: byte for byte what dumping the tree
    // gave, whatever the strings hold (quotes, backslashes, control characters, non-ASCII,
    // bytes that are not UTF-8).
    const json payload = {{"idTag", "ABC"}, {"meterStart", 5}};
    const json reply = {{"idTagInfo", {{"status", "Accepted"}}}, {"transactionId", 12}};
    const json decision = {{"kind", "authorize"}, {"source", "table"}, {"status", "Accepted"}};
    const std::vector<std::string> message_ids = {
        "m-1", "q\"uote", "back\\slash", std::string("nul\0x", 5), "tab\tnl\ncr\r\x01\x1f\x7f",
        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac", "bad \xff\xfe utf8", "trunc \xe2\x82"};
    for (const auto& id : message_ids) {
        for (const bool decided : {false, true}) {
            INFO(json(id).dump(-1, ' ', true, json::error_handler_t::replace));
            const std::string record = kafka_bridge::station_event(
                kSession, "StartTransaction", ocpp::EventClass::transaction, id,
                "2026-01-01T00:00:00.000Z", 42, payload, reply.dump(), decided ? decision : json());
            const json parsed = json::parse(record);
            json tree = {{"stationId", kSession.station_id}, {"gatewayId", kSession.gateway_id},
                         {"sessionId", kSession.session_id}, {"ocppVersion", "2.0.1"},
                         {"eventId", parsed.at("eventId")},
                         {"dedupKey", kafka_bridge::dedup_key(kSession.station_id, "StartTransaction", id, payload)},
                         {"action", "StartTransaction"}, {"messageId", id}, {"eventClass", "transaction"},
                         {"receivedAt", "2026-01-01T00:00:00.000Z"}, {"sequence", 42}};
            if (decided) {
                tree["decision"] = decision;
            }
            std::string expected = tree.dump(-1, ' ', false, json::error_handler_t::replace);
            expected.pop_back();
            expected += ",\"payload\":" + payload.dump() + ",\"reply\":" + reply.dump() + "}";
            CHECK(record == expected);
        }
    }
}
