#include <catch2/catch.hpp>

#include "event_schemas.hpp"
#include "gateway/commands/presence_table.hpp"
#include "kafka_bridge/envelope.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;
using namespace kafka_bridge;
using gateway::commands::PresenceTable;

namespace {

constexpr std::int64_t kRecordTime = 1'780'000'000'000;  // 2026-05-28

}  // namespace

TEST_CASE("the presence table tells the runs of an instance id apart", "[commands]") {
    const test_support::EventSchema schema("presence.schema.json");
    PresenceTable table(std::chrono::milliseconds(10000), "gw-self");
    const std::int64_t t0 = kRecordTime;
    CHECK(table.gateway_run("gw-a") == 0);  // never seen
    const std::string first = gateway_record("gw-a", true, "2026-05-28T10:00:00.000Z", 1'780'000'000'000);
    CHECK(schema.violations(first).empty());
    REQUIRE(table.apply(gateway_key("gw-a"), first, 0, t0));
    CHECK(table.gateway_run("gw-a") == 1'780'000'000'000);
    // Restarted in place: the same id, a larger run, alive throughout.
    REQUIRE(table.apply(gateway_key("gw-a"),
                        gateway_record("gw-a", true, "2026-05-28T10:00:03.000Z", 1'780'000'003'000), 1, t0));
    CHECK(table.gateway_run("gw-a") == 1'780'000'003'000);
    CHECK(table.gateway_alive("gw-a", t0 + 1000));
    // A late record of the earlier run, or one without a run (an earlier version of the
    // gateway), does not make the id's run older.
    REQUIRE(table.apply(gateway_key("gw-a"), first, 2, t0));
    CHECK(table.gateway_run("gw-a") == 1'780'000'003'000);
    const std::string legacy = gateway_record("gw-a", true, "2026-05-28T10:00:04.000Z");
    CHECK(json::parse(legacy).count("run") == 0);
    REQUIRE(table.apply(gateway_key("gw-a"), legacy, 3, t0));
    CHECK(table.gateway_run("gw-a") == 1'780'000'003'000);
    // An id known only from records without runs has none.
    REQUIRE(table.apply(gateway_key("gw-old"), legacy, 4, t0));
    CHECK(table.gateway_run("gw-old") == 0);
    // This instance's own run is the one it set, whatever the records of earlier runs said.
    REQUIRE(table.apply(gateway_key("gw-self"), gateway_record("gw-self", true, "2026-05-28T10:00:00.000Z", 5), 5, t0));
    CHECK(table.gateway_run("gw-self") == 5);
    table.set_self_run(6);
    CHECK(table.gateway_run("gw-self") == 6);
    // A run that is not a positive integer is refused by the schema.
    auto bad = json::parse(first);
    bad["run"] = 0;
    CHECK_FALSE(schema.violations(bad.dump()).empty());
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


TEST_CASE("this instance is alive to itself while its liveness records are held up",
          "[commands]") {
    PresenceTable table(std::chrono::milliseconds(10000), "gw-self");
    const std::int64_t t0 = kRecordTime;
    REQUIRE(table.apply(gateway_key("gw-self"), gateway_record("gw-self", true, "2026-05-28T10:00:00.000Z"), 0, t0));
    REQUIRE(table.apply(gateway_key("gw-peer"), gateway_record("gw-peer", true, "2026-05-28T10:00:00.000Z"), 1, t0));
    Presence p;
    p.station_id = "CS-1";
    p.gateway_id = "gw-self";
    p.connected = true;
    p.epoch = -1;
    p.session_id = "s";
    REQUIRE(table.apply("cs-1", presence_record(p), 2, t0));
    // A broker failing over holds up every liveness record for longer than the timeout: the
    // peer counts as gone, this instance does not, and its station is still held here.
    const std::int64_t later = t0 + 15000;
    CHECK_FALSE(table.gateway_alive("gw-peer", later));
    CHECK(table.gateway_alive("gw-self", later));
    CHECK(table.alive_gateways(later) == std::vector<std::string>{"gw-self"});
    REQUIRE(table.holder("CS-1", later).has_value());
    CHECK(table.holder("CS-1", later)->gateway_id == "gw-self");
    // Alive peers are listed with it, in order.
    REQUIRE(table.apply(gateway_key("gw-a"), gateway_record("gw-a", true, "2026-05-28T10:00:15.000Z"), 3, later));
    CHECK(table.alive_gateways(later) == std::vector<std::string>{"gw-a", "gw-self"});
}

TEST_CASE("the presence table gives back each record as it was, packed or not", "[commands]") {
    PresenceTable table(std::chrono::milliseconds(10000));
    const std::int64_t t0 = kRecordTime;
    std::int64_t offset = 0;
    auto round_trip = [&](const std::string& station_id, const std::string& session_id,
                          const std::string& since) {
        Presence p;
        p.station_id = station_id;
        p.gateway_id = "gw-a";
        p.connected = true;
        p.epoch = 7;
        p.session_id = session_id;
        p.version = ProtocolVersion::v201;
        p.since = since;
        p.at = "2026-05-28T10:00:01.000Z";
        REQUIRE(table.apply(presence_key(station_id), presence_record(p), ++offset, t0));
        const auto back = table.last(station_id);
        REQUIRE(back);
        CHECK(back->station_id == station_id);
        CHECK(back->gateway_id == "gw-a");
        CHECK(back->connected);
        CHECK(back->epoch == 7);
        CHECK(back->session_id == session_id);
        CHECK(back->version == ProtocolVersion::v201);
        CHECK(back->since == since);
        CHECK(back->at.empty());  // not kept
    };
    // What instances write: a v4 session id and a time with milliseconds.
    round_trip("CS-1", new_uuid(), "2026-05-28T10:00:00.123Z");
    // What the packed form would not give back byte for byte is kept as text.
    round_trip("CS-2", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "2026-05-28T10:00:00.123Z");
    round_trip("CS-3", "s", "2026-05-28T10:00:00Z");
    round_trip("CS-4", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "2026-05-28T12:00:00.000+02:00");
    round_trip("CS-5", "3f2504e0_4f89_41d3_9a0c_0305e82c3301", "");
    round_trip("CS-6", "", "not a time");
    round_trip("CS-7", "3f2504e0-4f89-41d3-9a0c-0305e82c33zz", "2026-05-28T10:00:00.999Z");

    // One entry per station whatever the spelling; it answers to every spelling and takes
    // the newest.
    round_trip("cs-1", new_uuid(), "2026-05-28T10:05:00.000Z");
    CHECK(table.last("CS-1")->station_id == "cs-1");
    CHECK(table.held_by("gw-a").size() == 7);
    CHECK(table.held_by("gw-unknown").empty());

    // A Disconnected record for a station the table never saw is its first entry.
    Presence gone;
    gone.station_id = "CS-8";
    gone.gateway_id = "gw-b";
    gone.epoch = 3;
    REQUIRE(table.apply(presence_key("CS-8"), presence_record(gone), ++offset, t0));
    REQUIRE(table.last("cs-8"));
    CHECK_FALSE(table.last("cs-8")->connected);
    CHECK(table.last("cs-8")->epoch == 3);

    // A record refused for its epoch leaves no entry behind.
    CHECK_FALSE(table.apply(presence_key("CS-9"),
                            std::string(R"({"stationId":"CS-9","gatewayId":"gw-a","state":"Connected","epoch":"x"})"),
                            ++offset, t0));
    CHECK_FALSE(table.last("CS-9"));
}

TEST_CASE("a Disconnected record without an epoch ends an older connection of its instance, "
          "not a newer one", "[commands]") {
    PresenceTable table(std::chrono::milliseconds(10000));
    const std::int64_t t0 = kRecordTime;
    REQUIRE(table.apply(gateway_key("gw-a"), gateway_record("gw-a", true, "2026-05-28T10:00:00.000Z"), 0, t0));
    auto station = [](bool connected, const std::string& session, const std::string& since) {
        Presence p;
        p.station_id = "CS-1";
        p.gateway_id = "gw-a";
        p.connected = connected;
        p.epoch = -1;  // Connected: its offset; Disconnected: none (never acknowledged)
        p.session_id = session;
        p.version = ProtocolVersion::v16;
        p.since = since;
        p.at = since;
        return p;
    };
    const std::string s1 = "0b7c0a4e-3e0f-4a59-9c56-0d7d2b4d9a11";
    const std::string s2 = "7f1e4c2a-9d3b-4e8f-8a1c-5b6d7e8f9a02";
    SECTION("written again after a failure, it lands after the next connection's record") {
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(true, s2, "2026-05-28T10:00:05.000Z")), 10, t0));
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(false, s1, "2026-05-28T10:00:01.000Z")), 11, t0));
        const auto last = table.last("CS-1");
        REQUIRE(last);
        CHECK(last->connected);
        CHECK(last->session_id == s2);
    }
    SECTION("the connection it replaced on the same instance ends with it") {
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(true, s1, "2026-05-28T10:00:01.000Z")), 10, t0));
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(false, s2, "2026-05-28T10:00:05.000Z")), 11, t0));
        CHECK_FALSE(table.last("CS-1")->connected);
    }
    SECTION("its own connection ends") {
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(true, s1, "2026-05-28T10:00:01.000Z")), 10, t0));
        REQUIRE(table.apply(presence_key("CS-1"), presence_record(station(false, s1, "2026-05-28T10:00:01.000Z")), 11, t0));
        CHECK_FALSE(table.last("CS-1")->connected);
    }
}
