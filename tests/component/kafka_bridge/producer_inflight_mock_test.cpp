// The producer's in-flight limits against librdkafka's in-process mock cluster: what the
// project's librdkafka patches 0003 and 0004 change (scripts/librdkafka-patches/).
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kafka_bridge/producer.hpp"
#include "mock_producer_support.hpp"

using kafka_bridge::Delivery;
using kafka_bridge::Producer;
using kafka_bridge::ProducerConfig;
using namespace test_support;  // the mock producer helpers
using namespace std::chrono_literals;

#ifdef OCPP_RDKAFKA_INFLIGHT_WAKEUP_PATCH
namespace {

// CPU time (user + system, in clock ticks) of this process's librdkafka broker threads.
long broker_thread_ticks() {
    long total = 0;
    std::unique_ptr<DIR, int (*)(DIR*)> tasks(opendir("/proc/self/task"), closedir);
    REQUIRE(tasks != nullptr);
    while (const dirent* entry = readdir(tasks.get())) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        const std::string task = std::string("/proc/self/task/") + entry->d_name;
        std::string name;
        std::getline(std::ifstream(task + "/comm"), name);
        if (name.rfind("rdk:broker", 0) != 0) {
            continue;
        }
        std::string stat;
        std::getline(std::ifstream(task + "/stat"), stat);
        // After the parenthesised name: state, then fields 4..13, then utime and stime.
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string skip;
        for (int i = 0; i < 11; ++i) {
            fields >> skip;
        }
        long user = 0;
        long system = 0;
        fields >> user >> system;
        total += user + system;
    }
    return total;
}

}  // namespace

TEST_CASE("a partition waiting for answers from a distant broker leaves the broker thread asleep",
          "[producer][inflight-wakeup]") {
    // One busy partition, a broker 100 ms away: the partition reaches its in-flight limit and
    // its next batch's linger expires long before an answer comes. The broker thread must wait
    // for that answer, not poll without waiting until it arrives (a whole core, unpatched).
    Collected warm;  // outlives the producer, whose destructor may still report to it
    Collected collected;
    ProducerConfig config;
    config.linger = 2ms;
    auto producer = mock_producer(config);
    auto* cluster = cluster_of(*producer);
    REQUIRE(rd_kafka_mock_topic_create(cluster, "ocpp.far", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster, "ocpp.far", 0, 1) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(producer->produce(record("ocpp.far", 0), [&](const Delivery& d) {
                warm.deliveries.push_back(d);
            }).ok());
    REQUIRE(wait_for(*producer, warm, 1) == 1);
    REQUIRE(rd_kafka_mock_broker_set_rtt(cluster, 1, 100) == RD_KAFKA_RESP_ERR_NO_ERROR);

    constexpr int kRecords = 750;  // one every 2 ms for 1.5 s
    const long ticks_before = broker_thread_ticks();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRecords; ++i) {
        REQUIRE(producer->produce(record("ocpp.far", i), [&](const Delivery& d) {
                    collected.deliveries.push_back(d);
                }).ok());
        producer->poll(0ms);
        std::this_thread::sleep_until(start + 2ms * (i + 1));  // the offered rate, not a wait
    }
    REQUIRE(wait_for(*producer, collected, kRecords) == kRecords);
    const double busy = static_cast<double>(broker_thread_ticks() - ticks_before) /
                        static_cast<double>(sysconf(_SC_CLK_TCK));
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const auto& d : collected.deliveries) {
        CHECK(d.ok());
    }
    INFO("broker threads busy " << busy << " s of " << elapsed << " s");
    // Waiting, they need a few per cent of a core; polling without waiting, close to all of it.
    CHECK(busy < 0.25 * elapsed);
}
#endif  // OCPP_RDKAFKA_INFLIGHT_WAKEUP_PATCH

#ifdef OCPP_RDKAFKA_CONNECTION_INFLIGHT_PATCH
namespace {

// When the mock cluster received each Produce request since tracking began (microseconds).
std::vector<std::int64_t> produce_request_times(rd_kafka_mock_cluster_t* cluster) {
    std::size_t count = 0;
    rd_kafka_mock_request_t** requests = rd_kafka_mock_get_requests(cluster, &count);
    std::vector<std::int64_t> times;
    for (std::size_t i = 0; i < count; ++i) {
        if (rd_kafka_mock_request_api_key(requests[i]) == kProduceApiKey) {
            times.push_back(rd_kafka_mock_request_timestamp(requests[i]));
        }
    }
    rd_kafka_mock_request_destroy_array(requests, count);
    return times;
}

// Polls the producer until the mock cluster has received `count` Produce requests or 5 s passed.
std::vector<std::int64_t> wait_for_produce_requests(Producer& producer, rd_kafka_mock_cluster_t* cluster,
                                                    std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    auto times = produce_request_times(cluster);
    while (times.size() < count && std::chrono::steady_clock::now() < deadline) {
        producer.poll(5ms);
        times = produce_request_times(cluster);
    }
    return times;
}

// Milliseconds from the first Produce request the broker received to the fifth and to the last.
struct Spread {
    long fifth;
    long last;
};

// Eight single-partition topics led by one broker a second away, one record each.
Spread produce_spread(const ProducerConfig& config) {
    Collected collected;  // outlives the producer, whose destructor may still report to it
    const auto collect = [&](const Delivery& d) { collected.deliveries.push_back(d); };
    auto producer = mock_producer(config);
    auto* cluster = cluster_of(*producer);
    constexpr int kTopics = 8;
    const auto topic = [](int i) { return "ocpp.wide-" + std::to_string(i); };
    for (int i = 0; i < kTopics; ++i) {
        REQUIRE(rd_kafka_mock_topic_create(cluster, topic(i).c_str(), 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE(rd_kafka_mock_partition_set_leader(cluster, topic(i).c_str(), 0, 1) ==
                RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE(producer->produce(record(topic(i), 0), collect).ok());
    }
    REQUIRE(wait_for(*producer, collected, kTopics) == kTopics);

    constexpr int kRoundTripMs = 1000;
    REQUIRE(rd_kafka_mock_broker_set_rtt(cluster, 1, kRoundTripMs) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_mock_start_request_tracking(cluster);
    for (int i = 0; i < kTopics; ++i) {
        REQUIRE(producer->produce(record(topic(i), 1), collect).ok());
    }
    const auto times = wait_for_produce_requests(*producer, cluster, kTopics);
    rd_kafka_mock_stop_request_tracking(cluster);
    INFO("Produce requests received within 5 s, one round trip being " << kRoundTripMs << " ms");
    REQUIRE(times.size() == kTopics);
    REQUIRE(wait_for(*producer, collected, 2 * kTopics) == 2 * kTopics);
    for (const auto& d : collected.deliveries) {
        CHECK(d.ok());
    }
    const auto since_first = [&](std::int64_t t) { return static_cast<long>((t - times[0]) / 1000); };
    return {since_first(times[4]), since_first(times.back())};
}

}  // namespace

TEST_CASE("a connection carries more than five partitions' requests at once when told to",
          "[producer][inflight-connection]") {
    // A produce request carries one partition, and each partition still keeps within the
    // broker's window for recognising a resend, so a connection may carry more requests, for
    // other partitions, without widening any partition's window.
    ProducerConfig config;
    config.linger = 2ms;
    config.properties["max.in.flight.requests.per.connection"] = "20";
    CHECK(mock_producer(config)->property("max.in.flight.requests.per.connection") == "20");
    CHECK(produce_spread(config).last < 500);
    // Five at a time: the first five at once, the last three after the first answers.
    config.properties.erase("max.in.flight.requests.per.connection");
    const auto five = produce_spread(config);
    CHECK(five.fifth < 500);
    CHECK(five.last >= 900);
}

TEST_CASE("adaptive batching with a distant broker: more requests in flight when told to",
          "[producer][inflight-connection]") {
    // No linger: five partitions' records leave at once, the others' after the first answer;
    // the operator's 50 in flight let all eight leave at once.
    ProducerConfig config;
    config.adaptive_batching = true;  // its settings: producer_mock_test.cpp
    const auto five = produce_spread(config);
    CHECK(five.fifth < 500);
    CHECK(five.last >= 900);
    config.properties["max.in.flight.requests.per.connection"] = "50";
    CHECK(produce_spread(config).last < 500);
}
#endif  // OCPP_RDKAFKA_CONNECTION_INFLIGHT_PATCH
