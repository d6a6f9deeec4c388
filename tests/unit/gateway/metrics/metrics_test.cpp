#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "gateway/metrics/metrics.hpp"

using gateway::metrics::Metrics;
using Outcome = Metrics::Outcome;

TEST_CASE("station calls are counted per version, action and outcome", "[metrics]") {
    Metrics m;
    m.message(ocpp::ProtocolVersion::v16, "Heartbeat", Outcome::acknowledged);
    m.message(ocpp::ProtocolVersion::v16, "Heartbeat", Outcome::acknowledged);
    m.message(ocpp::ProtocolVersion::v201, "TransactionEvent", Outcome::failed);
    const std::string text = m.render({});
    CHECK_THAT(text, Catch::Contains(
                         "ocpp_messages_total{version=\"1.6\",action=\"Heartbeat\",outcome=\"acknowledged\"} 2\n"));
    CHECK_THAT(text, Catch::Contains(
                         "ocpp_messages_total{version=\"2.0.1\",action=\"TransactionEvent\",outcome=\"failed\"} 1\n"));
    // Nothing is exported for what never happened.
    CHECK_THAT(text, !Catch::Contains("action=\"Heartbeat\",outcome=\"failed\""));
}

TEST_CASE("actions a version does not know are counted as unknown, whatever the station sent",
          "[metrics]") {
    Metrics m;
    m.message(ocpp::ProtocolVersion::v16, "NoSuchAction", Outcome::rejected);
    m.message(ocpp::ProtocolVersion::v16, "AnotherMadeUpName", Outcome::rejected);
    // 2.0.1-only action on a 1.6 connection.
    m.message(ocpp::ProtocolVersion::v16, "TransactionEvent", Outcome::rejected);
    const std::string text = m.render({});
    CHECK_THAT(text, Catch::Contains(
                         "ocpp_messages_total{version=\"1.6\",action=\"unknown\",outcome=\"rejected\"} 3\n"));
    CHECK_THAT(text, !Catch::Contains("NoSuchAction"));
    CHECK_THAT(text, !Catch::Contains("AnotherMadeUpName"));
}

TEST_CASE("calls counted from many threads at once are all counted", "[metrics]") {
    Metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m] {
            for (int i = 0; i < 10000; ++i) {
                m.message(ocpp::ProtocolVersion::v201, "MeterValues", Outcome::acknowledged);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK_THAT(m.render({}),
               Catch::Contains("ocpp_messages_total{version=\"2.0.1\",action=\"MeterValues\",outcome=\"acknowledged\"} 40000\n"));
}

TEST_CASE("ack latencies fill a cumulative histogram", "[metrics]") {
    Metrics m;
    using std::chrono::microseconds;
    m.produce_ack_latency(microseconds(300));    // <= 0.0005
    m.produce_ack_latency(microseconds(1500));   // <= 0.002
    m.produce_ack_latency(microseconds(7000));   // <= 0.01
    const std::string text = m.render({});
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_bucket{le=\"0.0005\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_bucket{le=\"0.001\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_bucket{le=\"0.002\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_bucket{le=\"0.01\"} 3\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_bucket{le=\"+Inf\"} 3\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_count 3\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_produce_ack_seconds_sum 0.0088\n"));
}

TEST_CASE("freshness is exported per event class: receipt and station clock to the ack",
          "[metrics][freshness]") {
    Metrics m;
    m.event_stored(ocpp::EventClass::status, 3, 7000, true);
    m.event_stored(ocpp::EventClass::status, 1, 400, false);
    m.event_stored(ocpp::EventClass::heartbeat, 2, std::nullopt, false);
    // A station clock ahead gives a negative delay: counted in the lowest bucket, never below.
    m.event_stored(ocpp::EventClass::metering, 2, -5000, false);
    m.station_clock_off(true);
    const std::string text = m.render({});
    CHECK_THAT(text, Catch::Contains("ocpp_event_receipt_to_ack_seconds_count{event_class=\"status\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_receipt_to_ack_seconds_bucket{event_class=\"status\",le=\"0.002\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_receipt_to_ack_seconds_count{event_class=\"heartbeat\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_freshness_seconds_bucket{event_class=\"status\",le=\"0.5\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_freshness_seconds_bucket{event_class=\"status\",le=\"10\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_freshness_seconds_sum{event_class=\"status\"} 7.4\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_freshness_seconds_count{event_class=\"heartbeat\"} 0\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_event_freshness_seconds_bucket{event_class=\"metering\",le=\"0.1\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_events_over_freshness_budget_total{event_class=\"status\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_events_over_freshness_budget_total{event_class=\"metering\"} 0\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_station_clock_off_total{direction=\"ahead\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_station_clock_off_total{direction=\"behind\"} 0\n"));
}

TEST_CASE("command records dropped or forgotten are counted", "[metrics]") {
    Metrics m;
    const std::string before = m.render({});
    CHECK_THAT(before, Catch::Contains("ocpp_command_ids_forgotten_early_total 0\n"));
    m.command_id_reused();
    m.command_ids_forgotten_early(7);
    m.command_ids_forgotten_early(5);  // two tenants' routers, or one router twice
    const std::string text = m.render({});
    CHECK_THAT(text, Catch::Contains("ocpp_command_ids_reused_total 1\n"));
    CHECK_THAT(text, Catch::Contains("ocpp_command_ids_forgotten_early_total 12\n"));
    CHECK_THAT(text, Catch::Contains("# TYPE ocpp_command_ids_forgotten_early_total counter\n"));
}
