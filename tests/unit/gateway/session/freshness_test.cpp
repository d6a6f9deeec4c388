#include <catch2/catch.hpp>

#include "gateway/session/freshness.hpp"
#include "kafka_bridge/commands.hpp"

using gateway::session::check_clock;
using gateway::session::ClockCheck;
using gateway::session::station_time_ms;
using nlohmann::json;

namespace {

std::int64_t at(const char* rfc3339) { return *kafka_bridge::parse_time_ms(rfc3339); }

}  // namespace

TEST_CASE("the station's moment: newest meter sample, else timestamp, else generatedAt",
          "[session][freshness]") {
    const auto meter = json::parse(R"({"connectorId": 1, "meterValue": [
        {"timestamp": "2026-12-01T10:00:00Z", "sampledValue": [{"value": "1"}]},
        {"timestamp": "2026-12-01T11:05:00.250+01:00", "sampledValue": [{"value": "2"}]},
        {"timestamp": "2026-12-01T09:10:00Z", "sampledValue": [{"value": "3"}]}]})");
    CHECK(station_time_ms(meter) == at("2026-12-01T10:05:00.250Z"));  // the offset counts
    CHECK(station_time_ms(json::parse(R"({"timestamp": "2026-12-01T10:00:00Z", "generatedAt": "2026-12-01T11:00:00Z"})")) ==
          at("2026-12-01T10:00:00Z"));
    CHECK(station_time_ms(json::parse(R"({"generatedAt": "2026-12-01T11:00:00Z", "seqNo": 0})")) ==
          at("2026-12-01T11:00:00Z"));
    // No moment of its own, or one that is not a date-time: nothing to measure.
    CHECK_FALSE(station_time_ms(json::object()));
    CHECK_FALSE(station_time_ms(json::parse(R"({"timestamp": "yesterday"})")));
    CHECK_FALSE(station_time_ms(json::parse(R"({"timestamp": 1764583200})")));
    CHECK_FALSE(station_time_ms(json::parse(R"({"meterValue": [{"sampledValue": []}, 7]})")));
    CHECK_FALSE(station_time_ms(json::array()));
}

TEST_CASE("a station clock is off beyond the tolerance on either side", "[session][freshness]") {
    gateway::config::Config::Freshness tolerance;
    tolerance.clock_ahead = std::chrono::seconds(300);
    tolerance.clock_behind = std::chrono::seconds(86400);
    const std::int64_t now = at("2026-12-01T12:00:00Z");
    CHECK(check_clock(now, now, tolerance) == ClockCheck::fine);
    CHECK(check_clock(now + 300'000, now, tolerance) == ClockCheck::fine);
    CHECK(check_clock(now + 300'001, now, tolerance) == ClockCheck::ahead);
    CHECK(check_clock(now - 86'400'000, now, tolerance) == ClockCheck::fine);
    CHECK(check_clock(at("2000-01-01T00:00:00Z"), now, tolerance) == ClockCheck::behind);
}
