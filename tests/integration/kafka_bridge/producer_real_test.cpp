// The idempotent producer against a real Apache Kafka broker: everything produced is read back.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>

#include "integration/kafka_reader.hpp"
#include "kafka_bridge/producer.hpp"

using kafka_bridge::Delivery;
using kafka_bridge::Producer;
using kafka_bridge::ProducerConfig;
using kafka_bridge::Record;
using namespace std::chrono_literals;

namespace {

std::string unique_topic(const std::string& base) {
    return base + "." +
           std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
}

/// Produces one record to `topic` and serves delivery reports until it has its report (at
/// most 15 s); returns the reports.
std::vector<Delivery> deliver_one(Producer& producer, const std::string& topic) {
    std::vector<Delivery> deliveries;
    REQUIRE(producer.produce(Record{topic, "CP", "{}", {}},
                             [&](const Delivery& d) { deliveries.push_back(d); })
                .ok());
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (deliveries.empty() && std::chrono::steady_clock::now() < deadline) {
        producer.poll(100ms);
    }
    return deliveries;
}

}  // namespace

TEST_CASE("records produced idempotently are all on the broker, once, in order per key",
          "[producer][kafka]") {
    ProducerConfig config;
    config.brokers = test_support::test_brokers();
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    Producer& producer = *created.value();

    const std::string topic = unique_topic("ocpp.it.producer");
    // The producer never has the broker create a topic: it is made here, as the gateway does.
    REQUIRE(producer.ensure_topics({{topic, 3, -1, {}}}, 30s).ok());
    REQUIRE(producer.wait_partitions_ready(topic, 30s).ok());
    constexpr int kRecords = 2000;
    std::vector<Delivery> deliveries;
    for (int i = 0; i < kRecords; ++i) {
        const std::string station = "CP-" + std::to_string(i % 10);
        Record record{topic, station,
                      R"({"station":")" + station + R"(","seq":)" + std::to_string(i) + "}",
                      {{"ocpp-version", "1.6"}, {"ocpp-action", "MeterValues"}}};
        auto r = producer.produce(record, [&](const Delivery& d) { deliveries.push_back(d); });
        while (!r.ok() && r.error().is_backpressure()) {
            producer.poll(10ms);
            r = producer.produce(record, [&](const Delivery& d) { deliveries.push_back(d); });
        }
        REQUIRE(r.ok());
        producer.poll(0ms);
    }
    REQUIRE(producer.flush(30s).ok());
    producer.poll(0ms);
    REQUIRE(deliveries.size() == kRecords);
    for (const auto& d : deliveries) {
        REQUIRE(d.ok());
    }

    const auto records = test_support::read_topic(config.brokers, topic, 60s);
    REQUIRE(records.size() == kRecords);
    std::set<std::string> values;
    std::map<std::string, int> last_seq;
    std::map<std::string, std::int32_t> partition_of;
    for (const auto& r : records) {
        values.insert(r.value);
        CHECK(r.headers.size() == 2);
        // One key → one partition, and the partition keeps the key's order.
        auto [it, inserted] = partition_of.emplace(r.key, r.partition);
        CHECK(it->second == r.partition);
        const auto seq_pos = r.value.find("\"seq\":");
        const int seq = std::stoi(r.value.substr(seq_pos + 6));
        CHECK(seq % 10 == std::stoi(r.key.substr(3)));
        if (last_seq.count(r.key) != 0 && r.partition == partition_of[r.key]) {
            // Records of one partition are read in offset order.
            CHECK(seq > last_seq[r.key]);
        }
        last_seq[r.key] = seq;
    }
    CHECK(values.size() == kRecords);  // no duplicates
}

namespace {

/// Produces `count` records of `bytes` each to partition 0 of `topic` as fast as the queue
/// takes them, batched for up to 200 ms, and returns how many Kafka refused.
int refused_of_burst(ProducerConfig config, const std::string& topic, int count, std::size_t bytes) {
    config.linger = 200ms;
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    Producer& producer = *created.value();
    REQUIRE(producer.wait_partitions_ready(topic, 30s).ok());
    int reports = 0;
    int refused = 0;
    const Record record{topic, "CP", std::string(bytes, 'x'), {}};
    for (int i = 0; i < count; ++i) {
        REQUIRE(producer.produce(record, [&](const Delivery& d) {
                            ++reports;
                            refused += d.ok() ? 0 : 1;
                        })
                    .ok());
    }
    REQUIRE(producer.flush(30s).ok());
    producer.poll(0ms);
    REQUIRE(reports == count);
    return refused;
}

}  // namespace

TEST_CASE("batches stay within batch_bytes, so a topic that takes the largest record takes them all",
          "[producer][kafka]") {
    ProducerConfig config;
    config.brokers = test_support::test_brokers();
    const std::string topic = unique_topic("ocpp.it.batch");
    {
        auto admin = Producer::create(config);
        REQUIRE(admin.ok());
        // Room for a 256 KiB record and its envelope, as README advises, and no more.
        REQUIRE(admin.value()->ensure_topics({{topic, 1, -1, {{"max.message.bytes", "300000"}}}}, 30s).ok());
    }
    // The premise: with librdkafka's batch.size (1,000,000) the broker refuses whole batches
    // of small records, each far below the topic's limit.
    CHECK(refused_of_burst(config, topic, 3000, 1000) > 0);
    // Batches of at most the frame limit (what the gateway sets): all taken, and a record
    // larger than a batch still goes, alone.
    config.batch_bytes = 256 * 1024;
    CHECK(refused_of_burst(config, topic, 3000, 1000) == 0);
    CHECK(refused_of_burst(config, topic, 3, 270000) == 0);
}

TEST_CASE("a missing topic is never created by producing to it", "[producer][kafka]") {
    ProducerConfig config;
    config.brokers = test_support::test_brokers();
    config.delivery_timeout = 3000ms;
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    Producer& producer = *created.value();
    const std::string topic = unique_topic("ocpp.it.missing");
    const auto deliveries = deliver_one(producer, topic);
    REQUIRE(deliveries.size() == 1);
    CHECK_FALSE(deliveries.front().ok());
    // Still missing: asking for its partitions fails.
    CHECK_FALSE(producer.partition_count(topic, 5s).ok());
}

TEST_CASE("an unreachable cluster never yields a success", "[producer][kafka]") {
    ProducerConfig config;
    config.brokers = "127.0.0.1:1";  // nothing listens there
    config.delivery_timeout = 1500ms;
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    Producer& producer = *created.value();
    const auto deliveries = deliver_one(producer, "ocpp.it.nowhere");
    REQUIRE(deliveries.size() == 1);
    CHECK_FALSE(deliveries.front().ok());
    CHECK(producer.last_transport_error().has_value());
}
