#include <catch2/catch.hpp>

#include "gateway/session/reply_policy.hpp"
#include "kafka_bridge/commands.hpp"
#include "ocpp/schema_registry.hpp"
#include "support.hpp"

using nlohmann::json;
using gateway::session::ReplyPolicy;
using ocpp::ProtocolVersion;

namespace {

const std::int64_t kNowMs = *kafka_bridge::parse_time_ms("2026-03-01T10:00:00.000Z");
const ReplyPolicy::Now kNow{"2026-03-01T10:00:00.000Z", kNowMs};

void put(gateway::decisions::TokenTable& table, const std::string& key, const json& value) {
    REQUIRE_FALSE(table.apply_record(key, value.dump(), std::chrono::system_clock::now()));
}

json status_of(const ReplyPolicy::Answer& a, const char* info) { return a.reply.at(info).at("status"); }

}  // namespace

TEST_CASE("every station-initiated action gets a schema-valid reply", "[reply]") {
    gateway::decisions::TokenTable tokens;
    // Entries with every optional field, so that each mapping is checked against the schemas.
    for (const char* key : {"04A2B9C2E35A80", "DEWBXC1A2B3C4D5"}) {
        put(tokens, key,
            {{"idToken", key}, {"status", "Accepted"}, {"expiresAt", "2030-01-01T00:00:00Z"},
             {"groupIdToken", "FLEET-7"}, {"personalMessage", {{"format", "UTF8"}, {"language", "de"}, {"content", "Hallo"}}},
             {"language", "de"}});
    }
    const ReplyPolicy plain(gateway::config::Config::Reply{});
    const ReplyPolicy from_table(gateway::config::Config::Reply{}, &tokens);
    for (const ReplyPolicy* policy : {&plain, &from_table}) {
        for (const auto v : ocpp::kAllVersions) {
            for (const auto& info : ocpp::actions(v)) {
                if (!info.station_may_send() || info.rpc == ocpp::Rpc::send) {
                    continue;  // a SEND is never answered
                }
                CAPTURE(ocpp::subprotocol(v), info.name);
                const auto payload = json::parse(test_support::read_file(
                    test_support::fixtures_dir() / std::string(ocpp::subprotocol(v)) / "requests" /
                    (std::string(info.name) + ".json")));
                const std::optional<std::int64_t> txid =
                    ReplyPolicy::needs_transaction_id(v, info.name) ? std::optional<std::int64_t>(42)
                                                                    : std::nullopt;
                const json reply = policy->reply(v, info.name, "CS01", payload, txid, kNow).reply;
                const auto result =
                    test_support::official_schemas().validate(v, info.name, ocpp::SchemaKind::response, reply);
                INFO(reply.dump() << " " << result.summary());
                CHECK(result.ok());
            }
        }
    }
}

TEST_CASE("tokens are answered from the table, unknown ones by the policy", "[reply]") {
    gateway::decisions::TokenTable tokens;
    put(tokens, "GOOD", {{"idToken", "GOOD"}, {"status", "Accepted"}, {"groupIdToken", "FLEET"}});
    put(tokens, "STOLEN", {{"idToken", "STOLEN"}, {"status", "Blocked"}});
    put(tokens, "OLD", {{"idToken", "OLD"}, {"status", "Accepted"}, {"expiresAt", "2026-02-01T00:00:00Z"}});
    put(tokens, "BROKE", {{"idToken", "BROKE"}, {"status", "NoCredit"}});
    put(tokens, "CARDONLY", {{"idToken", "CARDONLY"}, {"type", "ISO14443"}, {"status", "Accepted"}});
    gateway::config::Config::Reply settings;
    const ReplyPolicy policy(settings, &tokens);

    SECTION("1.6") {
        auto good = policy.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "good"}}, {}, kNow);
        CHECK(good.reply == json{{"idTagInfo", {{"status", "Accepted"}, {"parentIdTag", "FLEET"}}}});
        REQUIRE(good.decision);
        CHECK(good.decision->to_json() == json{{"kind", "authorization"}, {"source", "table"}, {"status", "Accepted"}});
        CHECK(status_of(policy.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "STOLEN"}}, {}, kNow),
                        "idTagInfo") == "Blocked");
        CHECK(status_of(policy.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "OLD"}}, {}, kNow),
                        "idTagInfo") == "Expired");
        // 1.6 has no NoCredit: the refusal it can say.
        auto broke = policy.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "BROKE"}}, {}, kNow);
        CHECK(status_of(broke, "idTagInfo") == "Invalid");
        CHECK(broke.decision->status == "NoCredit");
        // A 1.6 idTag has no type: a typed entry still applies.
        CHECK(status_of(policy.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "CARDONLY"}}, {}, kNow),
                        "idTagInfo") == "Accepted");
        auto unknown = policy.reply(ProtocolVersion::v16, "StartTransaction", "CS01", {{"idTag", "NOBODY"}}, 77, kNow);
        CHECK(unknown.reply == json{{"transactionId", 77}, {"idTagInfo", {{"status", "Invalid"}}}});
        CHECK(unknown.decision->to_json() == json{{"kind", "authorization"}, {"source", "policy"}, {"status", "Invalid"}});
        // StopTransaction without idTag decides nothing.
        CHECK_FALSE(policy.reply(ProtocolVersion::v16, "StopTransaction", "CS01", json::object(), {}, kNow).decision);
    }
    SECTION("2.0.1") {
        auto token = [](const char* id, const char* type) { return json{{"idToken", {{"idToken", id}, {"type", type}}}}; };
        auto good = policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("GOOD", "ISO14443"), {}, kNow);
        CHECK(good.reply == json{{"idTokenInfo", {{"status", "Accepted"}, {"groupIdToken", {{"idToken", "FLEET"}, {"type", "Central"}}}}}});
        CHECK(status_of(policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("BROKE", "ISO14443"), {}, kNow),
                        "idTokenInfo") == "NoCredit");
        CHECK(status_of(policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("OLD", "ISO14443"), {}, kNow),
                        "idTokenInfo") == "Expired");
        // The entry's type narrows the match: the same value as an eMAID is another token.
        CHECK(status_of(policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("CARDONLY", "eMAID"), {}, kNow),
                        "idTokenInfo") == "Invalid");
        auto tx = policy.reply(ProtocolVersion::v201, "TransactionEvent", "CS01", token("STOLEN", "ISO14443"), {}, kNow);
        CHECK(status_of(tx, "idTokenInfo") == "Blocked");
        // No identity to check: free charging.
        auto free = policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("", "NoAuthorization"), {}, kNow);
        CHECK(status_of(free, "idTokenInfo") == "Accepted");
        CHECK(free.decision->to_json().at("source") == "no-authorization");
        CHECK_FALSE(policy.reply(ProtocolVersion::v201, "TransactionEvent", "CS01", json::object(), {}, kNow).decision);
    }
    SECTION("an open network accepts unknown tokens") {
        settings.unknown_token_status = "Accepted";
        const ReplyPolicy open(settings, &tokens);
        CHECK(status_of(open.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "NOBODY"}}, {}, kNow),
                        "idTagInfo") == "Accepted");
        // ... but not the ones the operator blocked.
        CHECK(status_of(open.reply(ProtocolVersion::v16, "Authorize", "CS01", {{"idTag", "STOLEN"}}, {}, kNow),
                        "idTagInfo") == "Blocked");
    }
}

TEST_CASE("2.1 tokens: up to 255 characters and 2.1's types, answered within each version's schema", "[reply]") {
    gateway::decisions::TokenTable tokens;
    const std::string vin = "WVWZZZ1JZXW000001";
    const std::string uuid_token = "urn:uuid:" + std::string(100, 'a');  // 109 characters: 2.1 only
    put(tokens, vin, {{"type", "VIN"}, {"status", "Accepted"}, {"groupIdToken", {{"idToken", "FLEET-EV"}, {"type", "VIN"}}}});
    put(tokens, uuid_token, {{"status", "Blocked"}, {"groupIdToken", uuid_token}});
    put(tokens, "CARD21", {{"status", "Accepted"}, {"groupIdToken", {{"idToken", "FLEET-EV"}, {"type", "VIN"}}}});
    const ReplyPolicy policy(gateway::config::Config::Reply{}, &tokens);
    auto token = [](const std::string& id, const char* type) { return json{{"idToken", {{"idToken", id}, {"type", type}}}}; };

    const auto v21 = policy.reply(ProtocolVersion::v21, "Authorize", "CS01", token(vin, "VIN"), {}, kNow);
    CHECK(v21.reply == json{{"idTokenInfo", {{"status", "Accepted"}, {"groupIdToken", {{"idToken", "FLEET-EV"}, {"type", "VIN"}}}}}});
    const auto long21 = policy.reply(ProtocolVersion::v21, "Authorize", "CS01", token(uuid_token, "Central"), {}, kNow);
    CHECK(long21.reply == json{{"idTokenInfo", {{"status", "Blocked"}, {"groupIdToken", {{"idToken", uuid_token}, {"type", "Central"}}}}}});
    // A 2.0.1 station gets the status, and the group only where 2.0.1's schema takes it.
    const auto v201 = policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("CARD21", "ISO14443"), {}, kNow);
    CHECK(v201.reply == json{{"idTokenInfo", {{"status", "Accepted"}}}});
    for (const auto& [v, answer] : {std::pair{ProtocolVersion::v21, v21}, {ProtocolVersion::v21, long21}, {ProtocolVersion::v201, v201}}) {
        const auto result = test_support::official_schemas().validate(v, "Authorize", ocpp::SchemaKind::response, answer.reply);
        INFO(answer.reply.dump() << " " << result.summary());
        CHECK(result.ok());
    }
    // Past 2.1's bounds, or a type no version has: refused.
    CHECK(tokens.apply_record(std::string(256, 'a'), json{{"status", "Accepted"}}.dump(), std::chrono::system_clock::now()));
    CHECK(tokens.apply_record("CARD", json{{"status", "Accepted"}, {"type", "Barcode"}}.dump(), std::chrono::system_clock::now()));
}

TEST_CASE("boot is answered from the station registry", "[reply]") {
    gateway::security::StationRegistry registry;
    REQUIRE_FALSE(registry.apply_record("NEW1", json{{"stationId", "NEW1"}, {"boot", "Pending"}}.dump()));
    REQUIRE_FALSE(registry.apply_record("OFF1", json{{"stationId", "OFF1"}, {"boot", "Rejected"}}.dump()));
    REQUIRE_FALSE(registry.apply_record("FAST", json{{"stationId", "FAST"}, {"heartbeatInterval", 30}}.dump()));
    gateway::config::Config::Reply settings;
    settings.heartbeat_interval = std::chrono::seconds(120);
    settings.boot_retry_interval = std::chrono::seconds(45);
    const ReplyPolicy policy(settings, nullptr, &registry);
    auto boot = [&policy](const char* station) {
        return policy.reply(ProtocolVersion::v201, "BootNotification", station, json::object(), {}, kNow);
    };
    auto accepted = boot("ANYONE");
    CHECK(accepted.reply == json{{"status", "Accepted"}, {"currentTime", kNow.text}, {"interval", 120}});
    CHECK(accepted.decision->to_json() == json{{"kind", "boot"}, {"source", "policy"}, {"status", "Accepted"}});
    CHECK(boot("fast").reply.at("interval") == 30);
    auto pending = boot("new1");
    CHECK(pending.reply.at("status") == "Pending");
    CHECK(pending.reply.at("interval") == 45);
    CHECK(pending.decision->source == gateway::decisions::Source::registry);
    CHECK(boot("OFF1").reply.at("status") == "Rejected");

    settings.boot_default_status = "Pending";
    const ReplyPolicy approving(settings, nullptr, &registry);
    CHECK(approving.reply(ProtocolVersion::v16, "BootNotification", "ANYONE", json::object(), {}, kNow)
              .reply.at("status") == "Pending");
    CHECK(approving.reply(ProtocolVersion::v16, "BootNotification", "FAST", json::object(), {}, kNow)
              .reply.at("status") == "Pending");
    CHECK(ReplyPolicy::needs_transaction_id(ProtocolVersion::v16, "StartTransaction"));
    CHECK_FALSE(ReplyPolicy::needs_transaction_id(ProtocolVersion::v201, "TransactionEvent"));
}

TEST_CASE("ask mode: which calls are asked, and what the answer says", "[reply]") {
    using Ask = gateway::config::Config::Reply::Ask;
    gateway::decisions::TokenTable tokens;
    put(tokens, "KNOWN", {{"status", "Blocked"}});
    gateway::config::Config::Reply settings;
    auto tag = [](const char* id) { return json{{"idTag", id}}; };
    auto token = [](const char* id, const char* type) { return json{{"idToken", {{"idToken", id}, {"type", type}}}}; };
    const auto authorization = ocpp::EventClass::authorization;
    const auto transaction = ocpp::EventClass::transaction;

    SECTION("never, unknown, always") {
        const ReplyPolicy off(settings, &tokens);
        CHECK_FALSE(off.question(ProtocolVersion::v16, "Authorize", authorization, tag("NEW")));
        settings.ask = Ask::unknown;
        const ReplyPolicy unknown(settings, &tokens);
        const auto q = unknown.question(ProtocolVersion::v201, "Authorize", authorization, token("NEW", "eMAID"));
        REQUIRE(q);
        CHECK(q->token == "NEW");
        CHECK(q->type == "eMAID");
        CHECK_FALSE(q->table_status);
        CHECK_FALSE(unknown.question(ProtocolVersion::v16, "Authorize", authorization, tag("known")));
        CHECK_FALSE(unknown.question(ProtocolVersion::v201, "Authorize", authorization, token("", "NoAuthorization")));
        CHECK_FALSE(unknown.question(ProtocolVersion::v16, "StopTransaction", transaction, json::object()));
        CHECK_FALSE(unknown.question(ProtocolVersion::v16, "Heartbeat", ocpp::EventClass::heartbeat, json::object()));
        settings.ask = Ask::always;
        const ReplyPolicy always(settings, &tokens);
        const auto known = always.question(ProtocolVersion::v16, "StartTransaction", transaction, tag("KNOWN"));
        REQUIRE(known);
        CHECK(known->table_status == std::optional<std::string>("Blocked"));
        settings.ask_classes = {authorization};
        const ReplyPolicy only_authorize(settings, &tokens);
        CHECK(only_authorize.question(ProtocolVersion::v16, "Authorize", authorization, tag("X")));
        CHECK_FALSE(only_authorize.question(ProtocolVersion::v16, "StartTransaction", transaction, tag("X")));
    }
    SECTION("the operator's answer, or the fallback on time-out") {
        const ReplyPolicy policy(settings, &tokens);
        gateway::decisions::TokenEntry decision;
        decision.status = "Accepted";
        decision.group_id_token = "FLEET";
        decision.group_type = "Central";
        ReplyPolicy::Asked answered{"r-1", decision};
        auto a = policy.reply(ProtocolVersion::v16, "Authorize", "CS01", tag("KNOWN"), {}, kNow, &answered);
        CHECK(a.reply == json{{"idTagInfo", {{"status", "Accepted"}, {"parentIdTag", "FLEET"}}}});
        CHECK(a.decision->to_json() ==
              json{{"kind", "authorization"}, {"source", "ask"}, {"status", "Accepted"}, {"requestId", "r-1"}});
        ReplyPolicy::Asked late{"r-2", std::nullopt};
        auto known = policy.reply(ProtocolVersion::v201, "Authorize", "CS01", token("KNOWN", "ISO14443"), {}, kNow, &late);
        CHECK(status_of(known, "idTokenInfo") == "Blocked");
        CHECK(known.decision->to_json() == json{{"kind", "authorization"}, {"source", "timeout-fallback"},
                                                {"status", "Blocked"}, {"requestId", "r-2"}, {"fallback", "table"}});
        auto unknown = policy.reply(ProtocolVersion::v16, "Authorize", "CS01", tag("NEW"), {}, kNow, &late);
        CHECK(status_of(unknown, "idTagInfo") == "Invalid");
        CHECK(unknown.decision->to_json().at("fallback") == "policy");
    }
}
