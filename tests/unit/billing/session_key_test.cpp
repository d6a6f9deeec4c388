#include <catch2/catch.hpp>

#include <string>

#include "tools/billing/book.hpp"

using billing::Book;
using billing::session_key;
using nlohmann::json;

namespace {

// A 2.0.1 TransactionEvent of `station` for `transaction_id`, with one register reading.
json transaction_event(const std::string& station, const std::string& transaction_id, const char* type,
                       int seq_no, const char* at, double kwh) {
    json payload{{"eventType", type},
                 {"timestamp", at},
                 {"triggerReason", "MeterValuePeriodic"},
                 {"seqNo", seq_no},
                 {"transactionInfo", {{"transactionId", transaction_id}}},
                 {"meterValue",
                  {{{"timestamp", at},
                    {"sampledValue", {{{"value", kwh}, {"unitOfMeasure", {{"unit", "kWh"}, {"multiplier", 0}}}}}}}}}};
    return json{{"stationId", station},
                {"ocppVersion", "2.0.1"},
                {"action", "TransactionEvent"},
                {"dedupKey", station + "/" + transaction_id + "/" + std::to_string(seq_no)},
                {"payload", std::move(payload)},
                {"reply", json::object()}};
}

}  // namespace

TEST_CASE("a session key escapes the separator inside the ids it joins", "[billing]") {
    CHECK(session_key("CP1", "7") == "CP1|7");
    CHECK(session_key("A", "1|7") == "A|1\\|7");
    CHECK(session_key("A|1", "7") == "A\\|1|7");
    CHECK(session_key("A", "1|7") != session_key("A|1", "7"));
    // The escape character itself is escaped: "A\" + "|7" and "A" + "\|7" stay apart.
    CHECK(session_key("A\\", "|7") == "A\\\\|\\|7");
    CHECK(session_key("A", "\\|7") == "A|\\\\\\|7");
    CHECK(session_key("A\\", "|7") != session_key("A", "\\|7"));
    CHECK(session_key("", "") == "|");
}

TEST_CASE("two stations whose ids and transaction ids join alike are two sessions", "[billing]") {
    Book book;
    // Station "A", transaction "1|7": 10 kWh to 12 kWh. Station "A|1", transaction "7": 20 to 25.
    book.apply(transaction_event("A", "1|7", "Started", 0, "2026-12-01T10:00:00Z", 10.0));
    book.apply(transaction_event("A|1", "7", "Started", 0, "2026-12-01T10:05:00Z", 20.0));
    book.apply(transaction_event("A", "1|7", "Ended", 1, "2026-12-01T11:00:00Z", 12.0));
    book.apply(transaction_event("A|1", "7", "Ended", 1, "2026-12-01T11:05:00Z", 25.0));

    REQUIRE(book.sessions().size() == 2);
    const auto& first = book.sessions().at(session_key("A", "1|7"));
    const auto& second = book.sessions().at(session_key("A|1", "7"));
    CHECK(first.station_id == "A");
    CHECK(second.station_id == "A|1");
    CHECK(first.to_json()["energyWh"] == 2000.0);
    CHECK(second.to_json()["energyWh"] == 5000.0);
    CHECK(first.status() == "closed");
    CHECK(second.status() == "closed");
}

TEST_CASE("a session read back under a key written before the escaping keeps it", "[billing]") {
    // A record written before keys were escaped: station "A", transaction "1|7", key "A|1|7".
    Book writer;
    writer.apply(transaction_event("A", "1|7", "Started", 0, "2026-12-01T10:00:00Z", 10.0));
    REQUIRE(writer.sessions().size() == 1);
    json record = writer.sessions().begin()->second.to_json();
    record["sessionKey"] = "A|1|7";
    auto restored = billing::Session::from_json(record);
    REQUIRE(restored.has_value());

    Book book;
    book.restore(*restored);
    book.restored();
    // Its events still find it, under the key it was written with: one session, not two.
    book.apply(transaction_event("A", "1|7", "Ended", 1, "2026-12-01T11:00:00Z", 12.0));
    REQUIRE(book.sessions().size() == 1);
    const auto& s = book.sessions().begin()->second;
    CHECK(s.key == "A|1|7");
    CHECK(s.status() == "closed");
    CHECK(s.to_json()["energyWh"] == 2000.0);
}
