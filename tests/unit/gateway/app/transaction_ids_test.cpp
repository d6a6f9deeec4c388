#include <catch2/catch.hpp>

#include "gateway/app/transaction_ids.hpp"

using gateway::app::v16_transaction_id;
using nlohmann::json;

TEST_CASE("the 1.6 transaction id the gateway gave in a transaction record: a "
          "StartTransaction's answer", "[app][transaction-ids]") {
    const json start = json::parse(R"({"ocppVersion":"1.6","action":"StartTransaction",
        "payload":{"connectorId":1,"idTag":"A","meterStart":0,"timestamp":"2026-01-01T00:00:00Z"},
        "reply":{"transactionId":4711,"idTagInfo":{"status":"Accepted"}}})");
    CHECK(v16_transaction_id(start) == 4711);
    // Draft-07 integers may be written with a fraction of zero.
    CHECK(v16_transaction_id(json{{"ocppVersion", "1.6"}, {"action", "StartTransaction"},
                                  {"reply", {{"transactionId", 42.0}}}}) == 42);
}

TEST_CASE("records that carry no 1.6 transaction id give none", "[app][transaction-ids]") {
    for (const char* text : {
             // 2.0.1 transaction ids are the station's own strings.
             R"({"ocppVersion":"2.0.1","action":"TransactionEvent","payload":{"transactionInfo":{"transactionId":"77"}}})",
             // A StartTransaction's request has no id; its answer is where the id is.
             R"({"ocppVersion":"1.6","action":"StartTransaction","payload":{"transactionId":9}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":{"transactionId":"9"}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":{"transactionId":9.5}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":{"transactionId":0}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":{"transactionId":-3}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":{"transactionId":1e300}})",
             R"({"ocppVersion":"1.6","action":"StartTransaction","reply":[]})",
             R"({"ocppVersion":"1.6","action":"StatusNotification","payload":{"transactionId":9}})",
             R"({"action":"StartTransaction","reply":{"transactionId":9}})",
             // A StopTransaction's id is the station's word: any number it likes.
             R"({"ocppVersion":"1.6","action":"StopTransaction","payload":{"transactionId":1999999999}})",
             R"([1,2,3])",
         }) {
        INFO(text);
        CHECK_FALSE(v16_transaction_id(json::parse(text)).has_value());
    }
}
