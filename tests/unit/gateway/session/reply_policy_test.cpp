#include <catch2/catch.hpp>

#include "gateway/session/reply_policy.hpp"
#include "ocpp/schema_registry.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;

TEST_CASE("every station-initiated action gets a schema-valid reply", "[reply]") {
    const gateway::session::ReplyPolicy policy(gateway::config::Config::Reply{});
    for (const auto v : ocpp::kAllVersions) {
        for (const auto& info : ocpp::actions(v)) {
            if (!info.station_may_send()) {
                continue;
            }
            CAPTURE(ocpp::subprotocol(v), info.name);
            const auto payload = json::parse(test_support::read_file(
                test_support::fixtures_dir() / std::string(ocpp::subprotocol(v)) / "requests" /
                (std::string(info.name) + ".json")));
            const std::optional<std::int64_t> txid =
                gateway::session::ReplyPolicy::needs_transaction_id(v, info.name)
                    ? std::optional<std::int64_t>(42)
                    : std::nullopt;
            const json reply = policy.reply(v, info.name, payload, txid, "2026-03-01T10:00:00.000Z");
            const auto result =
                test_support::official_schemas().validate(v, info.name, ocpp::SchemaKind::response, reply);
            INFO(reply.dump() << " " << result.summary());
            CHECK(result.ok());
        }
    }
}

TEST_CASE("the reply carries what the policy decides", "[reply]") {
    gateway::config::Config::Reply settings;
    settings.heartbeat_interval = std::chrono::seconds(120);
    settings.authorize_accept_all = false;
    settings.authorized_tokens = {"GOOD"};
    const gateway::session::ReplyPolicy policy(settings);
    const std::string now = "2026-03-01T10:00:00.000Z";

    auto boot = policy.reply(ProtocolVersion::v16, "BootNotification", json::object(), {}, now);
    CHECK(boot["interval"] == 120);
    CHECK(boot["currentTime"] == now);
    CHECK(policy.reply(ProtocolVersion::v16, "Authorize", {{"idTag", "GOOD"}}, {}, now) ==
          json{{"idTagInfo", {{"status", "Accepted"}}}});
    CHECK(policy.reply(ProtocolVersion::v16, "Authorize", {{"idTag", "BAD"}}, {}, now) ==
          json{{"idTagInfo", {{"status", "Invalid"}}}});
    CHECK(policy.reply(ProtocolVersion::v201, "Authorize",
                       {{"idToken", {{"idToken", "GOOD"}, {"type", "ISO14443"}}}}, {}, now) ==
          json{{"idTokenInfo", {{"status", "Accepted"}}}});
    // NoAuthorization tokens carry no identity to check: free charging is allowed.
    CHECK(policy.reply(ProtocolVersion::v201, "Authorize",
                       {{"idToken", {{"idToken", ""}, {"type", "NoAuthorization"}}}}, {}, now)
              .at("idTokenInfo")
              .at("status") == "Accepted");
    CHECK(policy.reply(ProtocolVersion::v201, "Authorize",
                       {{"idToken", {{"idToken", "BAD"}, {"type", "ISO14443"}}}}, {}, now)
              .at("idTokenInfo")
              .at("status") == "Invalid");
    CHECK(gateway::session::ReplyPolicy::needs_transaction_id(ProtocolVersion::v16, "StartTransaction"));
    CHECK_FALSE(gateway::session::ReplyPolicy::needs_transaction_id(ProtocolVersion::v201, "TransactionEvent"));
    CHECK(policy.reply(ProtocolVersion::v16, "StartTransaction", {{"idTag", "GOOD"}}, 77, now)
              .at("transactionId") == 77);
}
