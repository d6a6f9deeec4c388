#include <catch2/catch.hpp>

#include <thread>

#include "gateway/decisions/asks.hpp"
#include "event_schemas.hpp"

using gateway::decisions::AskTable;
using gateway::decisions::TokenEntry;
using nlohmann::json;

TEST_CASE("a question is answered once: by the decision or by the deadline", "[decisions]") {
    AskTable asks;
    std::vector<std::optional<std::string>> calls;
    auto record = [&calls](std::optional<TokenEntry> e) {
        calls.push_back(e ? std::optional<std::string>(e->status) : std::nullopt);
    };
    asks.add("r1", record);
    asks.add("r2", record);
    CHECK(asks.waiting() == 2);

    TokenEntry blocked;
    blocked.status = "Blocked";
    CHECK(asks.answer("r1", blocked));
    asks.expire("r1");                       // the deadline after the decision: nothing
    CHECK_FALSE(asks.answer("r1", blocked));  // a second decision: nobody waits
    asks.expire("r2");
    CHECK_FALSE(asks.answer("r2", blocked));  // a decision after the deadline: ignored
    CHECK_FALSE(asks.answer("someone-elses", blocked));
    REQUIRE(calls.size() == 2);
    CHECK(calls[0] == std::optional<std::string>("Blocked"));
    CHECK(calls[1] == std::nullopt);
    CHECK(asks.waiting() == 0);
}

TEST_CASE("racing decision and deadline still call back exactly once", "[decisions]") {
    AskTable asks;
    std::atomic<int> called{0};
    constexpr int kRounds = 2000;
    for (int i = 0; i < kRounds; ++i) {
        asks.add(std::to_string(i), [&called](std::optional<TokenEntry>) { ++called; });
    }
    TokenEntry accepted;
    accepted.status = "Accepted";
    std::thread decider([&] {
        for (int i = 0; i < kRounds; ++i) {
            asks.answer(std::to_string(i), accepted);
        }
    });
    for (int i = kRounds - 1; i >= 0; --i) {
        asks.expire(std::to_string(i));
    }
    decider.join();
    CHECK(called.load() == kRounds);
    CHECK(asks.waiting() == 0);
}

TEST_CASE("decision records are read like token entries, with a requestId", "[decisions]") {
    gateway::decisions::DecisionRecord d;
    REQUIRE_FALSE(gateway::decisions::parse_decision(
        R"({"requestId": "r-1", "status": "NoCredit", "personalMessage": "Top up first"})", d));
    CHECK(d.request_id == "r-1");
    CHECK(d.entry.status == "NoCredit");
    CHECK(d.entry.personal_message.at("content") == "Top up first");
    for (const char* bad : {"nope", R"({"status": "Accepted"})", R"({"requestId": "r", "status": "Sure"})",
                            R"({"requestId": 5, "status": "Accepted"})"}) {
        CAPTURE(bad);
        gateway::decisions::DecisionRecord ignored;
        CHECK(gateway::decisions::parse_decision(bad, ignored));
    }
    gateway::decisions::DecisionRecord ignored;
    const auto deep = gateway::decisions::parse_decision(
        R"({"requestId": "r-2", "status": "Blocked", "x": )" + std::string(200'000, '[') +
            std::string(200'000, ']') + "}",
        ignored);
    REQUIRE(deep);
    CHECK(*deep == "value is not a JSON object: nested deeper than 1024 levels");
}

TEST_CASE("questions follow their schema", "[decisions]") {
    const test_support::EventSchema schema("authorization-request.schema.json");
    gateway::decisions::AskRequest r;
    r.request_id = "5a1e2b9c-0d3f-4e5a-8b7c-6d5e4f3a2b1c";
    r.station_id = "CS-1";
    r.gateway_id = "gw-a";
    r.session_id = "s-1";
    r.ocpp_version = "2.0.1";
    r.action = "Authorize";
    r.message_id = "m-1";
    r.id_token = "04A2B9C2E35A80";
    r.type = "ISO14443";
    r.requested_at = "2026-03-01T10:00:00.000Z";
    r.deadline = "2026-03-01T10:00:02.000Z";
    const std::string text = gateway::decisions::request_record(r);
    INFO(text);
    CHECK(schema.violations(text).empty());
    r.table_status = "Blocked";
    r.type.clear();
    r.ocpp_version = "1.6";
    const std::string v16 = gateway::decisions::request_record(r);
    CHECK(schema.violations(v16).empty());
    CHECK(json::parse(v16).at("idToken") == json{{"idToken", "04A2B9C2E35A80"}});
    CHECK(json::parse(v16).at("tableStatus") == "Blocked");
}
