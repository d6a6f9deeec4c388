#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "kafka_bridge/commands.hpp"
#include "tools/billing/book.hpp"

using billing::Applied;
using billing::Book;
using nlohmann::json;

namespace {

json event(const std::string& station, const std::string& version, const std::string& action,
           const std::string& dedup, json payload, json reply = json::object()) {
    return json{{"stationId", station}, {"ocppVersion", version}, {"action", action},
                {"dedupKey", dedup},    {"payload", std::move(payload)}, {"reply", std::move(reply)}};
}

json meter16(int tx, const char* at, const char* wh, const char* unit = "Wh") {
    return json{{"connectorId", 1}, {"transactionId", tx},
                {"meterValue", {{{"timestamp", at}, {"sampledValue", {{{"value", wh}, {"unit", unit}}}}}}}};
}

/// A 1.6 session: start at 1000 Wh, two readings, stop at 4000 Wh; its start was sent twice
/// (the station lost the first answer: transactions 7 and 9, one dedupKey) and one
/// MeterValues twice.
std::vector<json> session16() {
    const json start{{"connectorId", 2}, {"idTag", "CARD1"}, {"meterStart", 1000}, {"timestamp", "2026-12-01T10:00:00Z"}};
    return {
        event("CP1", "1.6", "StartTransaction", "k-start", start, {{"transactionId", 7}}),
        event("CP1", "1.6", "StartTransaction", "k-start", start, {{"transactionId", 9}}),
        event("CP1", "1.6", "MeterValues", "k-m1", meter16(9, "2026-12-01T10:10:00Z", "2.5", "kWh")),
        event("CP1", "1.6", "MeterValues", "k-m1", meter16(9, "2026-12-01T10:10:00Z", "2.5", "kWh")),
        event("CP1", "1.6", "MeterValues", "k-m2", meter16(9, "2026-12-01T10:20:00Z", "3500")),
        event("CP1", "1.6", "StopTransaction", "k-stop",
              {{"transactionId", 9}, {"meterStop", 4000}, {"timestamp", "2026-12-01T10:30:00Z"}, {"reason", "EVDisconnected"}}),
        event("CP1", "1.6", "Heartbeat", "k-hb", json::object()),
        event("CP1", "1.6", "MeterValues", "k-idle", {{"connectorId", 1}, {"meterValue", json::array()}}),
    };
}

std::vector<json> session201(const char* version = "2.0.1") {
    auto te = [](const char* type, int seq, const char* at, double wh) {
        return json{{"eventType", type}, {"timestamp", at}, {"triggerReason", "MeterValuePeriodic"}, {"seqNo", seq},
                    {"transactionInfo", {{"transactionId", "TX-A"}}},
                    {"idToken", {{"idToken", "CARD2"}, {"type", "ISO14443"}}},
                    {"evse", {{"id", 1}, {"connectorId", 1}}},
                    {"meterValue", {{{"timestamp", at}, {"sampledValue", {{{"value", wh}, {"unitOfMeasure", {{"unit", "kWh"}, {"multiplier", 0}}}}}}}}}};
    };
    json ended = te("Ended", 2, "2026-12-01T11:45:00Z", 12.5);
    ended["transactionInfo"]["stoppedReason"] = "Local";
    return {
        event("CP2", version, "TransactionEvent", "t-0", te("Started", 0, "2026-12-01T11:00:00Z", 10.0)),
        event("CP2", version, "TransactionEvent", "t-1", te("Updated", 1, "2026-12-01T11:30:00Z", 11.0)),
        event("CP2", version, "TransactionEvent", "t-1", te("Updated", 1, "2026-12-01T11:30:05Z", 11.0)),  // resend
        event("CP2", version, "TransactionEvent", "t-2", ended),
    };
}

json without_key_order(const Book& book) {
    json out = json::object();
    for (const auto& [key, s] : book.sessions()) {
        out[key] = s.to_json();
    }
    return out;
}

}  // namespace

TEST_CASE("a 1.6 session is joined by transactionId, and a repeated start is one session", "[billing]") {
    Book book;
    std::vector<Applied> applied;
    for (const auto& e : session16()) {
        applied.push_back(book.apply(e));
    }
    CHECK(applied == std::vector<Applied>{Applied::changed, Applied::changed, Applied::changed, Applied::duplicate,
                                          Applied::changed, Applied::changed, Applied::ignored, Applied::ignored});
    REQUIRE(book.sessions().size() == 1);
    const json s = book.sessions().begin()->second.to_json();
    CHECK(s["sessionKey"] == "CP1|7");
    CHECK(s["transactionIds"] == json::array({"7", "9"}));
    CHECK(s["connectorId"] == 2);
    CHECK(s["idToken"] == "CARD1");
    CHECK(s["startedAt"] == "2026-12-01T10:00:00.000Z");
    CHECK(s["stoppedAt"] == "2026-12-01T10:30:00.000Z");
    CHECK(s["energyWh"] == 3000.0);
    CHECK(s["status"] == "closed");
    CHECK(s["stopReason"] == "EVDisconnected");
    CHECK(s["startDedupKeys"] == json::array({"k-start"}));
    // The record that replaces the session under transaction 9 deletes that key.
    const auto removed = book.take_removed();
    CHECK(removed == std::vector<std::string>{"CP1|9"});
}

TEST_CASE("a 2.0.1 or 2.1 session: TransactionEvents by transactionId, resends dropped", "[billing]") {
    const char* version = GENERATE("2.0.1", "2.1");
    CAPTURE(version);
    Book book;
    std::vector<Applied> applied;
    for (const auto& e : session201(version)) {
        applied.push_back(book.apply(e));
    }
    CHECK(applied == std::vector<Applied>{Applied::changed, Applied::changed, Applied::duplicate, Applied::changed});
    REQUIRE(book.sessions().size() == 1);
    const json s = book.sessions().at("CP2|TX-A").to_json();
    CHECK(s["evseId"] == 1);
    CHECK(s["idToken"] == "CARD2");
    CHECK(s["energyWh"] == 2500.0);
    CHECK(s["status"] == "closed");
    CHECK(s["seqNos"] == json::array({json::array({0, 2})}));
}

namespace {

/// A 2.0.1 station that numbered its events again after a reboot: Started 0, Updated 1, then
/// Updated 0 and Ended 1 (no meter value in the Ended).
std::vector<json> session_renumbered() {
    auto te = [](const char* type, int seq, const char* at, std::optional<double> kwh) {
        json e{{"eventType", type}, {"timestamp", at}, {"triggerReason", "MeterValuePeriodic"}, {"seqNo", seq},
               {"transactionInfo", {{"transactionId", "TX-RB"}}}};
        if (kwh) {
            const json sample{{"value", *kwh}, {"unitOfMeasure", {{"unit", "kWh"}}}};
            e["meterValue"] = json::array({json{{"timestamp", at}, {"sampledValue", json::array({sample})}}});
        }
        if (std::string(type) == "Ended") {
            e["transactionInfo"]["stoppedReason"] = "PowerLoss";
        }
        return e;
    };
    return {
        event("CP7", "2.0.1", "TransactionEvent", "rb-0", te("Started", 0, "2026-12-01T13:00:00Z", 1.0)),
        event("CP7", "2.0.1", "TransactionEvent", "rb-1", te("Updated", 1, "2026-12-01T13:10:00Z", 2.0)),
        event("CP7", "2.0.1", "TransactionEvent", "rb-0", te("Updated", 0, "2026-12-01T13:20:00Z", 3.0)),
        event("CP7", "2.0.1", "TransactionEvent", "rb-1", te("Ended", 1, "2026-12-01T13:30:00Z", std::nullopt)),
    };
}

}  // namespace

TEST_CASE("the result does not depend on how the partitions interleave", "[billing]") {
    std::vector<json> all = session16();
    for (const auto& more : {session201(), session_renumbered()}) {
        all.insert(all.end(), more.begin(), more.end());
    }
    Book in_order;
    for (const auto& e : all) {
        in_order.apply(e);
    }
    const json expected = without_key_order(in_order);
    REQUIRE(expected.at("CP7|TX-RB").at("status") == "closed");
    // One stream per station and topic, each in the order the station sent it (a partition
    // keeps its order); the streams interleave at random, as a consumer of both topics'
    // partitions reads them.
    std::map<std::string, std::vector<json>> streams;
    for (const auto& e : all) {
        const bool metering = e.at("action") == "MeterValues";
        streams[e.at("stationId").get<std::string>() + (metering ? "/meter-values" : "/transactions")].push_back(e);
    }
    std::mt19937 random(12345);
    for (int round = 0; round < 200; ++round) {
        std::map<std::string, std::size_t> next;
        std::vector<std::string> open;
        for (const auto& [name, events] : streams) {
            open.push_back(name);
        }
        Book book;
        while (!open.empty()) {
            const auto pick = std::uniform_int_distribution<std::size_t>(0, open.size() - 1)(random);
            const auto& events = streams.at(open[pick]);
            book.apply(events[next[open[pick]]++]);
            if (next[open[pick]] == events.size()) {
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));
            }
        }
        INFO("round " << round);
        REQUIRE(without_key_order(book) == expected);
    }
}

TEST_CASE("without its start a session is orphaned, with it open until stopped", "[billing]") {
    Book book;
    const auto events = session16();
    book.apply(events[4]);  // a MeterValues of transaction 9 only
    CHECK(book.sessions().at("CP1|9").status() == "orphaned");
    book.apply(events[1]);
    CHECK(book.sessions().at("CP1|9").status() == "open");
    // The first start, seen last: the session moves under the smaller id, nothing is lost.
    book.apply(events[0]);
    REQUIRE(book.sessions().count("CP1|7") == 1);
    CHECK(book.sessions().count("CP1|9") == 0);
    CHECK(book.sessions().at("CP1|7").to_json()["energyWh"] == 2500.0);

    // A stop read before its start leaves the session orphaned, not closed with 0 Wh.
    Book stop_first;
    stop_first.apply(events[5]);
    CHECK(stop_first.sessions().at("CP1|9").status() == "orphaned");
    CHECK(stop_first.sessions().at("CP1|9").to_json()["energyWh"] == 0.0);
    stop_first.apply(events[1]);
    CHECK(stop_first.sessions().at("CP1|9").status() == "closed");
    CHECK(stop_first.sessions().at("CP1|9").to_json()["energyWh"] == 3000.0);
}

TEST_CASE("state written and read back continues exactly where it was", "[billing]") {
    const auto events = session16();
    Book before;
    for (std::size_t i = 0; i < 3; ++i) {
        before.apply(events[i]);
    }
    // What the sessions topic holds: the record of each session, tombstones for merged ones.
    Book after;
    for (const auto& [key, s] : before.sessions()) {
        auto copy = billing::Session::from_json(json::parse(s.to_json().dump()));
        REQUIRE(copy);
        after.restore(std::move(*copy));
    }
    after.restored();
    Book whole;
    for (const auto& e : events) {
        whole.apply(e);
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
        after.apply(events[i]);  // a replay from the start changes nothing it had
    }
    CHECK(without_key_order(after) == without_key_order(whole));
}

TEST_CASE("events billing cannot read are reported, not applied", "[billing]") {
    Book book;
    std::string note;
    CHECK(book.apply(json::parse("[1,2]"), &note) == Applied::unusable);
    CHECK(note.find("not a station event") != std::string::npos);
    note.clear();
    CHECK(book.apply(json{{"stationId", "CP"}}, &note) == Applied::unusable);
    CHECK(note.find("not a station event") != std::string::npos);
    CHECK(book.apply(event("CP", "1.6", "StartTransaction", "k", {{"connectorId", 1}}, {{"idTagInfo", json::object()}}),
                     &note) == Applied::unusable);
    CHECK(note == "a 1.6 StartTransaction whose answer (reply) has no transactionId");
    json no_reply = event("CP", "1.6", "StartTransaction", "k", {{"connectorId", 1}});
    no_reply.erase("reply");
    CHECK(book.apply(no_reply, &note) == Applied::unusable);
    CHECK(note == "a 1.6 StartTransaction without the answer the station got (reply)");
    CHECK(book.sessions().empty());
}

TEST_CASE("readings that are not finite are skipped, and the largest seqNo is written and read back", "[billing]") {
    Book book;
    const json start{{"connectorId", 1}, {"idTag", "CARD"}, {"meterStart", 1000}, {"timestamp", "2026-12-01T10:00:00Z"}};
    book.apply(event("CP3", "1.6", "StartTransaction", "s", start, {{"transactionId", 5}}));
    // Schema-valid strings std::stod reads as NaN and infinity, and one out of its range, timed
    // before the start and after the stop: taken, they would be the session's first or last
    // reading.
    book.apply(event("CP3", "1.6", "MeterValues", "m1", meter16(5, "2026-12-01T10:40:00Z", "NaN")));
    book.apply(event("CP3", "1.6", "MeterValues", "m2", meter16(5, "2026-12-01T09:50:00Z", "inf")));
    book.apply(event("CP3", "1.6", "MeterValues", "m3", meter16(5, "2026-12-01T10:45:00Z", "1e999")));
    book.apply(event("CP3", "1.6", "StopTransaction", "e",
                     {{"transactionId", 5}, {"meterStop", 4000}, {"timestamp", "2026-12-01T10:30:00Z"}}));
    REQUIRE(book.sessions().size() == 1);
    const json record = book.sessions().begin()->second.to_json();
    CHECK(record["energyWh"] == 3000.0);
    CHECK(record["meterStart"]["wh"] == 1000.0);
    CHECK(record["meterStop"]["wh"] == 4000.0);

    // 2.0.1: a multiplier that overflows a double.
    const json huge{{"eventType", "Started"}, {"timestamp", "2026-12-01T11:00:00Z"}, {"triggerReason", "Authorized"},
                    {"seqNo", INT64_MAX}, {"transactionInfo", {{"transactionId", "TX-MAX"}}},
                    {"meterValue", {{{"timestamp", "2026-12-01T11:00:00Z"},
                                     {"sampledValue", {{{"value", 5.0}, {"unitOfMeasure", {{"unit", "Wh"}, {"multiplier", 400}}}}}}}}}};
    Book other;
    CHECK(other.apply(event("CP4", "2.0.1", "TransactionEvent", "t", huge)) == Applied::changed);
    REQUIRE(other.sessions().size() == 1);
    const json written = other.sessions().begin()->second.to_json();
    CHECK(written["meterStart"].is_null());
    // The record of a seqNo of 2^63 - 1 reads back (a restart), once.
    auto copy = billing::Session::from_json(json::parse(written.dump()));
    REQUIRE(copy);
    CHECK(copy->seq_nos.contains(INT64_MAX));
    CHECK(copy->seq_nos.ranges() == std::map<std::int64_t, std::int64_t>{{INT64_MAX, INT64_MAX}});
}

TEST_CASE("only the outlet's register is billed, not the grid connection's or the vehicle's", "[billing]") {
    Book book;
    const json start{{"connectorId", 1}, {"idTag", "CARD"}, {"meterStart", 1000}, {"timestamp", "2026-12-01T10:00:00Z"}};
    book.apply(event("CP5", "1.6", "StartTransaction", "s", start, {{"transactionId", 3}}));
    // The station's grid register (far larger) and the vehicle's, beside the outlet's, at the
    // same moment and at later ones: taken, they would be the first or last reading.
    json mv = meter16(3, "2026-12-01T10:10:00Z", "2500");
    mv["meterValue"][0]["sampledValue"] = json::array(
        {json{{"value", "2500"}, {"location", "Outlet"}}, json{{"value", "900000"}, {"location", "Inlet"}},
         json{{"value", "10"}, {"location", "EV"}}});
    book.apply(event("CP5", "1.6", "MeterValues", "m1", mv));
    json late = meter16(3, "2026-12-01T10:50:00Z", "950000");
    late["meterValue"][0]["sampledValue"][0]["location"] = "Inlet";
    book.apply(event("CP5", "1.6", "MeterValues", "m2", late));
    book.apply(event("CP5", "1.6", "StopTransaction", "e",
                     {{"transactionId", 3}, {"meterStop", 4000}, {"timestamp", "2026-12-01T10:30:00Z"}}));
    REQUIRE(book.sessions().size() == 1);
    const json record = book.sessions().begin()->second.to_json();
    CHECK(record["meterStart"]["wh"] == 1000.0);
    CHECK(record["meterStop"]["wh"] == 4000.0);
    CHECK(record["energyWh"] == 3000.0);

    // 2.0.1: the same with the vehicle's register reported after the outlet's last reading.
    Book other;
    for (auto e : session201()) {
        if (e["payload"]["eventType"] == "Ended") {
            auto& samples = e["payload"]["meterValue"][0]["sampledValue"];
            samples.push_back(json{{"value", 99.0}, {"location", "EV"}, {"unitOfMeasure", {{"unit", "kWh"}}}});
        }
        other.apply(e);
    }
    REQUIRE(other.sessions().size() == 1);
    CHECK(other.sessions().begin()->second.to_json()["energyWh"] == 2500.0);
}

namespace {

/// TX-A of CP2 started again after `session201()` ended it: another card, from 20 to 21 kWh,
/// on `day` from `hour`:00.
std::vector<json> session201_again(const std::string& day = "2026-12-01", const std::string& hour = "14") {
    auto te = [](const char* type, int seq, const std::string& at, double kwh) {
        return json{{"eventType", type}, {"timestamp", at}, {"triggerReason", "Authorized"}, {"seqNo", seq},
                    {"transactionInfo", {{"transactionId", "TX-A"}}},
                    {"idToken", {{"idToken", "CARD3"}, {"type", "ISO14443"}}},
                    {"evse", {{"id", 1}, {"connectorId", 1}}},
                    {"meterValue", {{{"timestamp", at}, {"sampledValue", {{{"value", kwh}, {"unitOfMeasure", {{"unit", "kWh"}}}}}}}}}};
    };
    const std::string at = day + "T" + hour;
    return {
        event("CP2", "2.0.1", "TransactionEvent", "t-0", te("Started", 0, at + ":00:00Z", 20.0)),
        event("CP2", "2.0.1", "TransactionEvent", "t-1", te("Updated", 1, at + ":10:00Z", 20.5)),
        event("CP2", "2.0.1", "TransactionEvent", "t-2", te("Ended", 2, at + ":20:00Z", 21.0)),
    };
}

}  // namespace

TEST_CASE("a transaction id used again after its session ended is a session of its own", "[billing]") {
    Book book;
    for (const auto& e : session201()) {
        book.apply(e);
    }
    std::string note;
    const auto again = session201_again();
    CHECK(book.apply(again[0], &note) == Applied::changed);
    CHECK_THAT(note, Catch::Contains("session CP2|TX-A|2 (generation 2)"));
    CHECK(book.apply(again[1]) == Applied::changed);
    CHECK(book.apply(again[1]) == Applied::duplicate);  // a resend of the new session's event
    CHECK(book.apply(again[2]) == Applied::changed);
    REQUIRE(book.sessions().size() == 2);
    // The first session is as it was.
    const json first = book.sessions().at("CP2|TX-A").to_json();
    CHECK(first["energyWh"] == 2500.0);
    CHECK(first["idToken"] == "CARD2");
    CHECK(first["status"] == "closed");
    CHECK_FALSE(first.contains("generation"));
    const json second = book.sessions().at("CP2|TX-A|2").to_json();
    CHECK(second["sessionKey"] == "CP2|TX-A|2");
    CHECK(second["generation"] == 2);
    CHECK(second["transactionIds"] == json::array({"TX-A"}));
    CHECK(second["idToken"] == "CARD3");
    CHECK(second["energyWh"] == 1000.0);
    CHECK(second["status"] == "closed");
    CHECK(second["startedAt"] == "2026-12-01T14:00:00.000Z");

    // A 1.6 id given again (the transaction-id topic made anew): another start, not a repeat.
    Book v16;
    for (const auto& e : session16()) {
        v16.apply(e);
    }
    const json start{{"connectorId", 1}, {"idTag", "CARD9"}, {"meterStart", 9000}, {"timestamp", "2026-12-02T10:00:00Z"}};
    CHECK(v16.apply(event("CP1", "1.6", "StartTransaction", "k-start-2", start, {{"transactionId", 7}})) == Applied::changed);
    CHECK(v16.apply(event("CP1", "1.6", "StopTransaction", "k-stop-2",
                          {{"transactionId", 7}, {"meterStop", 9500}, {"timestamp", "2026-12-02T10:30:00Z"}})) ==
          Applied::changed);
    REQUIRE(v16.sessions().count("CP1|7|2") == 1);
    CHECK(v16.sessions().at("CP1|7").to_json()["energyWh"] == 3000.0);
    CHECK(v16.sessions().at("CP1|7|2").to_json()["energyWh"] == 500.0);
    CHECK(v16.sessions().at("CP1|7|2").to_json()["idToken"] == "CARD9");
    // The first start repeated is still one of the first session's.
    CHECK(v16.apply(session16()[0]) == Applied::duplicate);
}

TEST_CASE("a transaction id used again after its session was retired, and after a restart", "[billing]") {
    constexpr std::int64_t kHour = 3'600'000;
    const std::int64_t t0 = *kafka_bridge::parse_time_ms("2026-12-01T12:00:00Z");
    Book book(72 * kHour);
    for (const auto& e : session201()) {
        book.apply(e, nullptr, t0);
    }
    book.take_changed();  // written
    REQUIRE(book.retire(t0 + 1) == 1);
    // Days later: an event of the first session is late; a start under its id is a new one.
    const std::int64_t later = t0 + 96 * kHour;
    CHECK(book.apply(session201()[1], nullptr, later) == Applied::late);
    const auto again = session201_again("2026-12-05", "10");
    for (const auto& e : again) {
        CHECK(book.apply(e, nullptr, later) == Applied::changed);
    }
    REQUIRE(book.sessions().count("CP2|TX-A|2") == 1);
    CHECK(book.sessions().at("CP2|TX-A|2").status() == "closed");

    // Read back from the sessions topic (the retired first one too), in any order: the id
    // belongs to its latest generation, and the next start is the third.
    Book restored(72 * kHour);
    auto second = billing::Session::from_json(json::parse(book.sessions().at("CP2|TX-A|2").to_json().dump()));
    REQUIRE(second);
    CHECK(second->generation == 2);
    Book original;
    for (const auto& e : session201()) {
        original.apply(e, nullptr, t0);
    }
    auto first = billing::Session::from_json(json::parse(original.sessions().at("CP2|TX-A").to_json().dump()));
    REQUIRE(first);
    restored.restore(*second, t0 + 1);
    restored.restore(*first, t0 + 1);  // retired as it is read
    restored.restored();
    std::string note;
    auto third = session201_again("2026-12-05", "12");
    CHECK(restored.apply(third[0], &note, later + kHour) == Applied::changed);
    CHECK_THAT(note, Catch::Contains("session CP2|TX-A|3 (generation 3)"));
    CHECK(restored.sessions().count("CP2|TX-A|3") == 1);
    CHECK(restored.sessions().at("CP2|TX-A|2").status() == "closed");
}

TEST_CASE("a replay of an ended session is no new generation, live or retired", "[billing]") {
    constexpr std::int64_t kHour = 3'600'000;
    const std::int64_t t0 = *kafka_bridge::parse_time_ms("2026-12-01T12:00:00Z");
    Book book(72 * kHour);
    for (const auto& e : session201()) {
        book.apply(e, nullptr, t0);
    }
    // Read again (a replay, group offsets lost): its Started is timed before its end.
    for (const auto& e : session201()) {
        CHECK(book.apply(e, nullptr, t0 + kHour) == Applied::duplicate);
    }
    CHECK(book.sessions().size() == 1);
    book.take_changed();
    REQUIRE(book.retire(t0 + 2 * kHour) == 1);
    for (const auto& e : session201()) {
        CHECK(book.apply(e, nullptr, t0 + 96 * kHour) == Applied::late);
    }
    CHECK(book.sessions().empty());
}

TEST_CASE("a 1.6 start repeated under an id an earlier transaction had keeps that one apart", "[billing]") {
    Book book;
    const auto closed = [&](int tx, const std::string& key, const char* day) {
        const std::string d = day;
        book.apply(event("CP1", "1.6", "StartTransaction", key,
                         {{"connectorId", 1}, {"idTag", "OLD"}, {"meterStart", 100}, {"timestamp", d + "T08:00:00Z"}},
                         {{"transactionId", tx}}));
        book.apply(event("CP1", "1.6", "StopTransaction", key + "-stop",
                         {{"transactionId", tx}, {"meterStop", 200}, {"timestamp", d + "T09:00:00Z"}}));
    };
    closed(7, "old-7", "2026-11-01");
    closed(8, "old-8", "2026-11-02");
    const json old8 = book.sessions().at("CP1|8").to_json();
    // The ids are given again: a new start gets 7, its repeat (the answer was lost) 8.
    const json start{{"connectorId", 2}, {"idTag", "NEW"}, {"meterStart", 5000}, {"timestamp", "2026-12-03T10:00:00Z"}};
    CHECK(book.apply(event("CP1", "1.6", "StartTransaction", "k2", start, {{"transactionId", 7}})) == Applied::changed);
    CHECK(book.apply(event("CP1", "1.6", "StartTransaction", "k2", start, {{"transactionId", 8}})) == Applied::changed);
    CHECK(book.sessions().at("CP1|8").to_json() == old8);  // untouched
    REQUIRE(book.sessions().count("CP1|7|2") == 1);
    const json fresh = book.sessions().at("CP1|7|2").to_json();
    CHECK(fresh["transactionIds"] == json::array({"7", "8"}));
    CHECK(fresh["status"] == "open");
    CHECK(fresh["idToken"] == "NEW");
    CHECK(book.apply(event("CP1", "1.6", "StopTransaction", "k2-stop",
                           {{"transactionId", 8}, {"meterStop", 5600}, {"timestamp", "2026-12-03T11:00:00Z"}})) ==
          Applied::changed);
    CHECK(book.sessions().at("CP1|7|2").to_json()["energyWh"] == 600.0);
    CHECK(book.sessions().at("CP1|8").to_json() == old8);
}

TEST_CASE("a 2.0.1 id used again after a session seen only by its end", "[billing]") {
    Book book;
    book.apply(session201()[3]);  // the Ended alone: its Started was never read
    REQUIRE(book.sessions().at("CP2|TX-A").status() == "orphaned");
    for (const auto& e : session201_again()) {
        CHECK(book.apply(e) == Applied::changed);
    }
    CHECK(book.sessions().count("CP2|TX-A|2") == 1);
    CHECK(book.sessions().at("CP2|TX-A|2").to_json()["energyWh"] == 1000.0);
    CHECK(book.sessions().at("CP2|TX-A").status() == "orphaned");
}

TEST_CASE("read back, an id whose later generation is retired is not the earlier one's", "[billing]") {
    constexpr std::int64_t kHour = 3'600'000;
    const std::int64_t t0 = *kafka_bridge::parse_time_ms("2026-12-01T12:00:00Z");
    Book writer;
    for (const auto& e : session201()) {
        writer.apply(e, nullptr, t0);
    }
    for (const auto& e : session201_again()) {
        writer.apply(e, nullptr, t0);
    }
    auto first = billing::Session::from_json(json::parse(writer.sessions().at("CP2|TX-A").to_json().dump()));
    auto second = billing::Session::from_json(json::parse(writer.sessions().at("CP2|TX-A|2").to_json().dump()));
    REQUIRE(first);
    REQUIRE(second);
    first->updated_ms = t0 + 100 * kHour;  // read back live (a record without its time is)
    Book book(72 * kHour);
    book.restore(*first, t0 + kHour);
    book.restore(*second, t0 + kHour);  // retired
    book.restored();
    const json before = book.sessions().at("CP2|TX-A").to_json();
    // A late event of the second session: late, not added to the first.
    CHECK(book.apply(session201_again()[1], nullptr, t0 + 100 * kHour) == Applied::late);
    CHECK(book.sessions().at("CP2|TX-A").to_json() == before);
}

TEST_CASE("seqNos are kept as ranges, joined where they meet", "[billing]") {
    billing::SeqNos seqs;
    CHECK(seqs.insert(5));
    CHECK_FALSE(seqs.insert(5));
    CHECK(seqs.insert(7));
    CHECK(seqs.ranges() == std::map<std::int64_t, std::int64_t>{{5, 5}, {7, 7}});
    CHECK(seqs.insert(6));  // fills the gap: one range
    CHECK(seqs.ranges() == std::map<std::int64_t, std::int64_t>{{5, 7}});
    CHECK(seqs.insert_range(0, 3));
    CHECK(seqs.insert_range(2, 20));  // overlaps both sides of the gap at 4
    CHECK(seqs.ranges() == std::map<std::int64_t, std::int64_t>{{0, 20}});
    CHECK_FALSE(seqs.insert_range(9, 8));
    CHECK(seqs.contains(0));
    CHECK(seqs.contains(20));
    CHECK_FALSE(seqs.contains(21));
    CHECK_FALSE(seqs.contains(-1));
    // The ends of the number line: no overflow when a range touches them.
    billing::SeqNos ends;
    CHECK(ends.insert(INT64_MAX));
    CHECK(ends.insert(INT64_MAX - 1));
    CHECK(ends.insert(INT64_MIN));
    CHECK(ends.insert(INT64_MIN + 1));
    CHECK(ends.ranges() ==
          std::map<std::int64_t, std::int64_t>{{INT64_MIN, INT64_MIN + 1}, {INT64_MAX - 1, INT64_MAX}});
    CHECK(ends.insert_range(INT64_MIN, INT64_MAX));
    CHECK(ends.ranges() == std::map<std::int64_t, std::int64_t>{{INT64_MIN, INT64_MAX}});
}

TEST_CASE("a long 2.0.1 session stays one range, and a wide range reads back", "[billing]") {
    Book book;
    auto te = [](const char* type, std::int64_t seq) {
        return json{{"eventType", type}, {"timestamp", "2026-12-01T11:00:00Z"}, {"triggerReason", "MeterValuePeriodic"},
                    {"seqNo", seq}, {"transactionInfo", {{"transactionId", "TX-LONG"}}}};
    };
    CHECK(book.apply(event("CP5", "2.0.1", "TransactionEvent", "l", te("Started", 0))) == Applied::changed);
    for (std::int64_t seq = 1; seq < 20000; ++seq) {
        book.apply(event("CP5", "2.0.1", "TransactionEvent", "l", te("Updated", seq)));
    }
    const auto& session = book.sessions().at("CP5|TX-LONG");
    CHECK(session.seq_nos.ranges() == std::map<std::int64_t, std::int64_t>{{0, 19999}});
    CHECK(session.to_json()["seqNos"] == json::array({json::array({0, 19999})}));
    // A record with a range of a billion numbers (what a station numbering from a large
    // start, or a gap filled later, could leave) is read back as it is.
    json record = session.to_json();
    record["seqNos"] = json::array({json::array({0, 1000000000}), json::array({1000000005, 1000000005})});
    const auto copy = billing::Session::from_json(record);
    REQUIRE(copy);
    CHECK(copy->seq_nos.contains(999999999));
    CHECK_FALSE(copy->seq_nos.contains(1000000001));
    CHECK(copy->to_json()["seqNos"] == record["seqNos"]);
    // A range written backwards is no record of this consumer.
    record["seqNos"] = json::array({json::array({3, 2})});
    CHECK_FALSE(billing::Session::from_json(record));
}

TEST_CASE("a session numbered with gaps keeps a bounded record, its latest numbers recognised", "[billing]") {
    // Firmware numbering the station's events, not the transaction's: two connectors charging
    // at once leave every other number to the other session.
    Book book;
    auto te = [](const char* type, std::int64_t seq) {
        return json{{"eventType", type}, {"timestamp", "2026-12-01T11:00:00Z"}, {"triggerReason", "MeterValuePeriodic"},
                    {"seqNo", seq}, {"transactionInfo", {{"transactionId", "TX-GAPS"}}}};
    };
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "g", te("Started", 0))) == Applied::changed);
    for (std::int64_t seq = 2; seq < 20000; seq += 2) {
        book.apply(event("CP6", "2.0.1", "TransactionEvent", "g", te("Updated", seq)));
    }
    const auto& session = book.sessions().at("CP6|TX-GAPS");
    CHECK(session.seq_nos.ranges().size() == billing::SeqNos::kMaxRanges);
    CHECK(session.to_json().dump().size() < 64 * 1024);  // far below Kafka's 1 MB
    // The latest numbers are still known: their resend is a duplicate.
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "g", te("Updated", 19998))) == Applied::duplicate);
    // The earliest are forgotten: applied again, which leaves the session as it was (nothing
    // new), its record included.
    const json before = session.to_json();
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "g", te("Updated", 2))) == Applied::duplicate);
    CHECK(book.sessions().at("CP6|TX-GAPS").to_json() == before);
}

TEST_CASE("a station that numbers its events again after a reboot: its Ended is applied", "[billing]") {
    auto te = [](const char* type, int seq, const char* at, double kwh) {
        json e{{"eventType", type}, {"timestamp", at}, {"triggerReason", "MeterValuePeriodic"}, {"seqNo", seq},
               {"transactionInfo", {{"transactionId", "TX-R"}}},
               {"meterValue", {{{"timestamp", at}, {"sampledValue", {{{"value", kwh}, {"unitOfMeasure", {{"unit", "kWh"}}}}}}}}}};
        if (std::string(type) == "Ended") {
            e["transactionInfo"]["stoppedReason"] = "EVDisconnected";
        }
        return e;
    };
    Book book;
    std::string note;
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "r0", te("Started", 0, "2026-12-01T12:00:00Z", 1.0)), &note) ==
          Applied::changed);
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "r1", te("Updated", 1, "2026-12-01T12:10:00Z", 2.0)), &note) ==
          Applied::changed);
    CHECK(note.empty());
    // After the reboot the station counts from 0 again: an Updated with a seqNo seen is taken
    // for a resend (as a resend with a refreshed timestamp must be) ...
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "r0", te("Updated", 0, "2026-12-01T12:20:00Z", 3.0)), &note) ==
          Applied::duplicate);
    CHECK(note.empty());
    // ... but its Ended cannot be one: the session was open.
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "r1", te("Ended", 1, "2026-12-01T12:30:00Z", 4.0)), &note) ==
          Applied::changed);
    CHECK(note.find("seqNo 1 repeated by the first Ended event") != std::string::npos);
    const json record = book.sessions().at("CP6|TX-R").to_json();
    CHECK(record["status"] == "closed");
    CHECK(record["stoppedAt"] == "2026-12-01T12:30:00.000Z");
    CHECK(record["stopReason"] == "EVDisconnected");
    CHECK(record["energyWh"] == 3000.0);
    // The same Ended resent later (refreshed timestamp) is a resend: nothing moves.
    note.clear();
    CHECK(book.apply(event("CP6", "2.0.1", "TransactionEvent", "r1", te("Ended", 1, "2026-12-01T12:35:00Z", 4.0)), &note) ==
          Applied::duplicate);
    CHECK(note.empty());
    CHECK(book.sessions().at("CP6|TX-R").to_json()["stoppedAt"] == "2026-12-01T12:30:00.000Z");
}

TEST_CASE("a Started repeating a seen seqNo of a session not started is applied, once", "[billing]") {
    auto te = [](const char* type, int seq, const char* at) {
        return json{{"eventType", type}, {"timestamp", at}, {"triggerReason", "Authorized"}, {"seqNo", seq},
                    {"transactionInfo", {{"transactionId", "TX-S"}}}};
    };
    Book book;
    std::string note;
    // The station's first event read was an Updated numbered 0; after a reboot it sends the
    // transaction's Started, numbered 0 again.
    CHECK(book.apply(event("CP8", "2.0.1", "TransactionEvent", "s0", te("Updated", 0, "2026-12-01T14:10:00Z")), &note) ==
          Applied::changed);
    CHECK(book.sessions().at("CP8|TX-S").status() == "orphaned");
    CHECK(book.apply(event("CP8", "2.0.1", "TransactionEvent", "s0", te("Started", 0, "2026-12-01T14:00:00Z")), &note) ==
          Applied::changed);
    CHECK(note.find("seqNo 0 repeated by the first Started event") != std::string::npos);
    CHECK(book.sessions().at("CP8|TX-S").status() == "open");
    CHECK(book.sessions().at("CP8|TX-S").to_json()["startedAt"] == "2026-12-01T14:00:00.000Z");
    // Resent: nothing new, nothing noted.
    note.clear();
    CHECK(book.apply(event("CP8", "2.0.1", "TransactionEvent", "s0", te("Started", 0, "2026-12-01T14:00:30Z")), &note) ==
          Applied::duplicate);
    CHECK(note.empty());
    // An Ended whose timestamp cannot be read, resent: the first one ended the session (its
    // reason is there), so the resend is a resend and is not noted as a renumbering.
    json ended = te("Ended", 0, "not a time");
    ended["transactionInfo"]["stoppedReason"] = "Local";
    CHECK(book.apply(event("CP8", "2.0.1", "TransactionEvent", "s0", ended), &note) == Applied::changed);
    note.clear();
    CHECK(book.apply(event("CP8", "2.0.1", "TransactionEvent", "s0", ended), &note) == Applied::duplicate);
    CHECK(note.empty());
}

TEST_CASE("closed sessions retire from memory, and events that come for them later are late", "[billing]") {
    const std::int64_t hour = 3600000;
    const std::int64_t t0 = 1796112000000;  // 2026-12-01T08:00:00Z
    Book book;
    const auto events = session16();  // one 1.6 session, transactions 7 and 9, closed
    for (const auto& e : events) {
        book.apply(e, nullptr, t0);
    }
    // An open session of another station.
    const json start{{"connectorId", 1}, {"idTag", "CARD9"}, {"meterStart", 0}, {"timestamp", "2026-12-01T10:00:00Z"}};
    book.apply(event("CP9", "1.6", "StartTransaction", "o-start", start, {{"transactionId", 3}}), nullptr, t0);
    // Not written yet (take_changed not called): nothing retires.
    CHECK(book.retire(t0 + hour) == 0);
    book.take_changed();
    book.take_removed();
    CHECK(book.retire(t0) == 0);  // changed at t0, not before
    CHECK(book.retire(t0 + hour) == 1);
    CHECK(book.sessions().count("CP1|7") == 0);
    CHECK(book.sessions().count("CP9|3") == 1);  // open: stays
    CHECK(book.retired() == 1);
    // A late MeterValues under either id of the retired session, and a resent stop: late, and
    // no record is written for them.
    std::string note;
    CHECK(book.apply(events[4], &note, t0 + 2 * hour) == Applied::late);
    CHECK(note.find("whose session was closed and retired from memory: not applied") != std::string::npos);
    CHECK(book.apply(event("CP1", "1.6", "MeterValues", "late-7", meter16(7, "2026-12-01T10:40:00Z", "9000")), nullptr,
                     t0 + 2 * hour) == Applied::late);
    CHECK(book.apply(events[5], nullptr, t0 + 2 * hour) == Applied::late);
    CHECK(book.take_changed().empty());
    CHECK(book.sessions().count("CP1|7") == 0);
    // The open session still takes events.
    CHECK(book.apply(event("CP9", "1.6", "StopTransaction", "o-stop",
                           {{"transactionId", 3}, {"meterStop", 500}, {"timestamp", "2026-12-01T11:00:00Z"}}),
                     nullptr, t0 + 2 * hour) == Applied::changed);
}

TEST_CASE("read back, a closed session last changed before the horizon stays retired", "[billing]") {
    const std::int64_t hour = 3600000;
    const std::int64_t t0 = 1796112000000;  // 2026-12-01T08:00:00Z
    Book before;
    for (const auto& e : session16()) {
        before.apply(e, nullptr, t0);
    }
    const json written = before.sessions().at("CP1|7").to_json();
    CHECK(written["updatedAt"] == "2026-12-01T08:00:00.000Z");

    // Horizon after the change: retired at once, under both of its ids.
    Book retired;
    auto copy = billing::Session::from_json(written);
    REQUIRE(copy);
    retired.restore(std::move(*copy), t0 + hour);
    retired.restored();
    CHECK(retired.sessions().empty());
    CHECK(retired.retired() == 1);
    CHECK(retired.apply(session16()[4]) == Applied::late);  // transaction 9, the other id

    // A later record of the same key (the session changed again) brings it back.
    json newer = written;
    newer["updatedAt"] = "2026-12-01T10:00:00.000Z";
    Book back;
    back.restore(*billing::Session::from_json(written), t0 + hour);
    back.restore(*billing::Session::from_json(newer), t0 + hour);
    back.restored();
    CHECK(back.sessions().count("CP1|7") == 1);
    CHECK(back.retired() == 0);
    CHECK(back.apply(session16()[4]) == Applied::duplicate);

    // A record of an earlier version, without updatedAt, and so without a known last change:
    // never retired by the Book (ocpp-billing stamps it when it reads it back).
    json old = written;
    old.erase("updatedAt");
    Book upgraded;
    upgraded.restore(*billing::Session::from_json(old), t0 + 30 * hour);
    upgraded.restored();
    CHECK(upgraded.sessions().size() == 1);
    CHECK(upgraded.retire(t0 + 30 * hour) == 0);
}

TEST_CASE("a session's last change is its latest event, merges too, and retirement keeps repeated starts out", "[billing]") {
    const std::int64_t hour = 3600000;
    const std::int64_t t0 = 1796112000000;  // 2026-12-01T08:00:00Z
    const auto events = session16();  // start 7, start 9 (same dedupKey), meter values, stop
    Book book;
    book.apply(events[0], nullptr, t0);
    CHECK(book.sessions().at("CP1|7").updated_ms == t0);
    // The repeated start merges the two ids: the merged session changed then.
    CHECK(book.apply(events[1], nullptr, t0 + hour) == Applied::changed);
    CHECK(book.sessions().at("CP1|7").updated_ms == t0 + hour);
    // An event read out of order (an earlier record time) does not move it back.
    book.apply(events[2], nullptr, t0 + hour / 2);
    CHECK(book.sessions().at("CP1|7").updated_ms == t0 + hour);
    for (std::size_t i = 3; i < events.size(); ++i) {
        book.apply(events[i], nullptr, t0 + hour);
    }
    book.take_changed();
    book.take_removed();
    CHECK(book.retire(t0 + hour) == 0);
    CHECK(book.retire(t0 + hour + 1) == 1);
    // The station repeats its start once more, under a third id, long after: late, not a new
    // session that would stay open for ever.
    std::string note;
    CHECK(book.apply(event("CP1", "1.6", "StartTransaction", "k-start", events[0]["payload"], {{"transactionId", 11}}), &note,
                     t0 + 5 * hour) == Applied::late);
    CHECK(note.find("repeating the start (dedupKey k-start) of a session closed and retired") != std::string::npos);
    CHECK(book.sessions().empty());

    // Read back: the start key is retired with the session; a session read back live takes
    // it back.
    Book restored;
    restored.restore(*billing::Session::from_json(json::parse(R"({"sessionKey": "CP1|7", "stationId": "CP1",
        "transactionIds": ["7", "9"], "startDedupKeys": ["k-start"], "stoppedAt": "2026-12-01T10:30:00Z",
        "updatedAt": "2026-12-01T09:00:00Z"})")), t0 + 2 * hour);
    restored.restored();
    CHECK(restored.apply(event("CP1", "1.6", "StartTransaction", "k-start", events[0]["payload"], {{"transactionId", 12}})) ==
          Applied::late);
}

TEST_CASE("a session without the time of its last change is neither late nor retired", "[billing]") {
    const std::int64_t hour = 3600000;
    const std::int64_t t0 = 1796112000000;  // 2026-12-01T08:00:00Z
    Book book(hour);
    json old = json::parse(R"({"sessionKey": "CP1|7", "stationId": "CP1", "transactionIds": ["7"], "startDedupKeys": [],
        "stoppedAt": "2026-12-01T10:30:00Z"})");
    book.restore(*billing::Session::from_json(old), t0 + 100 * hour);
    book.restored();
    REQUIRE(book.sessions().size() == 1);
    CHECK(book.retire(t0 + 100 * hour) == 0);
    CHECK(book.apply(event("CP1", "1.6", "MeterValues", "m", meter16(7, "2026-12-01T10:10:00Z", "5")), nullptr,
                     t0 + 100 * hour) == Applied::changed);
    // Changed now, it has a last change, and ages from there.
    book.take_changed();
    CHECK(book.retire(t0 + 100 * hour + 1) == 1);
}

TEST_CASE("lateness is decided by the records' times, in memory or retired alike", "[billing]") {
    const std::int64_t hour = 3600000;
    const std::int64_t t0 = 1796112000000;  // 2026-12-01T08:00:00Z
    const auto events = session16();
    Book book(hour);
    for (std::size_t i = 0; i < 6; ++i) {  // starts, meter values, stop: closed, last change t0
        book.apply(events[i], nullptr, t0);
    }
    REQUIRE(book.sessions().at("CP1|7").status() == "closed");
    // Within the horizon of its last change: applied (a reading before the start).
    CHECK(book.apply(event("CP1", "1.6", "MeterValues", "m-early", meter16(9, "2026-12-01T09:55:00Z", "900")), nullptr,
                     t0 + hour) == Applied::changed);
    CHECK(book.sessions().at("CP1|7").to_json()["energyWh"] == 3100.0);
    // Past it, though the session is still in memory: late, as it would be once retired.
    std::string note;
    CHECK(book.apply(event("CP1", "1.6", "MeterValues", "m-late", meter16(9, "2026-12-01T09:50:00Z", "800")), &note,
                     t0 + 2 * hour + 1) == Applied::late);
    CHECK(note.find("more than the retirement horizon after its closed session last changed") != std::string::npos);
    CHECK(book.apply(event("CP1", "1.6", "StartTransaction", "k-start", events[0]["payload"], {{"transactionId", 13}}),
                     nullptr, t0 + 3 * hour) == Applied::late);
    CHECK(book.sessions().at("CP1|7").to_json()["energyWh"] == 3100.0);
    CHECK(book.sessions().size() == 1);
    // An open session never is.
    const json start{{"connectorId", 1}, {"idTag", "C"}, {"meterStart", 0}, {"timestamp", "2026-12-01T08:00:00Z"}};
    book.apply(event("CP2", "1.6", "StartTransaction", "o", start, {{"transactionId", 1}}), nullptr, t0);
    CHECK(book.apply(event("CP2", "1.6", "MeterValues", "o-m", meter16(1, "2026-12-01T20:00:00Z", "500")), nullptr,
                     t0 + 12 * hour) == Applied::changed);
}

namespace {

/// `j` with every integer written as a number with a fraction (42 as 42.0).
json as_floats(const json& j) {
    if (j.is_number_integer()) {
        return json(j.get<double>());
    }
    json out = j;
    if (j.is_object() || j.is_array()) {
        for (auto it = out.begin(); it != out.end(); ++it) {
            *it = as_floats(*it);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("integers written as 42.0, which the draft-07 schemas allow, bill as 42", "[billing]") {
    for (const auto& events : {session16(), session201()}) {
        Book plain;
        Book floats;
        for (const auto& e : events) {
            json f = e;
            f["payload"] = as_floats(e["payload"]);
            f["reply"] = as_floats(e["reply"]);
            CHECK(plain.apply(e) == floats.apply(f));
        }
        CHECK(without_key_order(floats) == without_key_order(plain));
    }
    // A multiplier of 3.0 is kilo: 2.5 k-units of Wh.
    Book book;
    auto start = session201()[0];
    start["payload"]["meterValue"][0]["sampledValue"][0] = {{"value", 2.5}, {"unitOfMeasure", {{"unit", "Wh"}, {"multiplier", 3.0}}}};
    REQUIRE(book.apply(start) == Applied::changed);
    CHECK(book.sessions().begin()->second.to_json()["meterStart"]["wh"] == 2500.0);
}

TEST_CASE("a meter that goes back during a session is flagged, not billed as negative energy", "[billing]") {
    Book book;
    std::string note;
    CHECK(book.apply(event("CP7", "1.6", "StartTransaction", "s7",
                           json{{"connectorId", 1}, {"idTag", "TAG"}, {"meterStart", 5000}, {"timestamp", "2026-12-01T10:00:00Z"}},
                           json{{"transactionId", 77}, {"idTagInfo", {{"status", "Accepted"}}}}),
                     &note) == Applied::changed);
    CHECK(note.empty());
    // The meter was replaced: its register starts again below where the session began.
    CHECK(book.apply(event("CP7", "1.6", "StopTransaction", "p7",
                           json{{"transactionId", 77}, {"meterStop", 4000}, {"timestamp", "2026-12-01T11:00:00Z"}}),
                     &note) == Applied::changed);
    CHECK(note == "session CP7|77: the latest register reading (4000.0 Wh) is below the earliest (5000.0 Wh): "
                  "energyWh 0 and meterWentBack in its record; look at it before billing it");
    const json record = book.sessions().at("CP7|77").to_json();
    CHECK(record["energyWh"] == 0.0);
    CHECK(record["meterWentBack"] == true);
    CHECK(record["status"] == "closed");
    const auto back = billing::Session::from_json(record);
    REQUIRE(back);
    CHECK(back->to_json() == record);
    // A session whose meter went forward has no such member, and its energy.
    CHECK(book.apply(event("CP7", "1.6", "StartTransaction", "s8",
                           json{{"connectorId", 2}, {"idTag", "TAG"}, {"meterStart", 1000}, {"timestamp", "2026-12-01T10:00:00Z"}},
                           json{{"transactionId", 78}, {"idTagInfo", {{"status", "Accepted"}}}})) == Applied::changed);
    CHECK(book.apply(event("CP7", "1.6", "StopTransaction", "p8",
                           json{{"transactionId", 78}, {"meterStop", 1500}, {"timestamp", "2026-12-01T11:00:00Z"}})) ==
          Applied::changed);
    const json forward = book.sessions().at("CP7|78").to_json();
    CHECK(forward["energyWh"] == 500.0);
    CHECK_FALSE(forward.contains("meterWentBack"));
}
