// The consumer against librdkafka's in-process mock cluster.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <map>

#include "consumer_support.hpp"
#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/producer.hpp"

using kafka_bridge::Consumer;
using kafka_bridge::ConsumerConfig;
using kafka_bridge::Producer;
using kafka_bridge::ProducerConfig;
using namespace std::chrono_literals;

namespace {

struct Mock {
    std::unique_ptr<Producer> producer;
    rd_kafka_mock_cluster_t* cluster = nullptr;
    std::string bootstrap;

    Mock() {
        ProducerConfig config;
        config.brokers = "";
        config.properties["test.mock.num.brokers"] = "1";
        auto created = Producer::create(config);
        REQUIRE(created.ok());
        producer = std::move(created.value());
        cluster = rd_kafka_handle_mock_cluster(producer->native_handle());
        REQUIRE(cluster != nullptr);
        bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
    }

    void topic(const std::string& name, int partitions) {
        REQUIRE(rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1) ==
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }

    // Writes key → value records and waits until every one is acknowledged.
    void write(const std::string& topic, const std::vector<std::pair<std::string, std::string>>& records) {
        std::size_t acked = 0;
        for (const auto& [key, value] : records) {
            REQUIRE(producer->produce({topic, key, value, {}}, [&acked](const kafka_bridge::Delivery& d) {
                REQUIRE(d.ok());
                ++acked;
            }).ok());
        }
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        while (acked < records.size() && std::chrono::steady_clock::now() < deadline) {
            producer->poll(20ms);
        }
        REQUIRE(acked == records.size());
    }

    std::unique_ptr<Consumer> consumer(std::optional<std::string> group = std::nullopt) {
        ConsumerConfig config;
        config.brokers = bootstrap;
        config.group_id = std::move(group);
        config.session_timeout = 6000ms;
        auto created = Consumer::create(config);
        REQUIRE(created.ok());
        return std::move(created.value());
    }
};

std::vector<std::pair<std::string, std::string>> numbered(int from, int to) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = from; i < to; ++i) {
        out.emplace_back("K" + std::to_string(i % 5), "v" + std::to_string(i));
    }
    return out;
}

}  // namespace

TEST_CASE("a table reader reads every partition from the beginning up to the watermarks", "[consumer]") {
    Mock mock;
    mock.topic("table", 3);
    mock.write("table", numbered(0, 12));
    auto consumer = mock.consumer();
    auto marks = consumer->assign_all({{"table", Consumer::Start::beginning}}, 10s);
    REQUIRE(marks.ok());
    REQUIRE(marks.value().size() == 3);
    std::int64_t total = 0;
    for (const auto& [partition, mark] : marks.value()) {
        CHECK(partition.first == "table");
        CHECK(mark.first == 0);
        total += mark.second;
    }
    CHECK(total == 12);
    const auto messages = test_support::read_messages(*consumer, 12);
    REQUIRE(messages.size() == 12);
    std::map<std::string, int> values;
    for (const auto& m : messages) {
        REQUIRE(m.key);
        REQUIRE(m.value);
        CHECK(m.offset < marks.value().at({m.topic, m.partition}).second);
        CHECK(m.timestamp_ms > 0);
        ++values[*m.value];
    }
    CHECK(values.size() == 12);
}

TEST_CASE("a reader from the end sees only what is written after it started", "[consumer]") {
    Mock mock;
    mock.topic("results", 2);
    mock.write("results", numbered(0, 6));
    auto consumer = mock.consumer();
    REQUIRE(consumer->assign_all({{"results", Consumer::Start::end}}, 10s).ok());
    mock.write("results", numbered(100, 103));
    const auto messages = test_support::read_messages(*consumer, 3);
    REQUIRE(messages.size() == 3);
    for (const auto& m : messages) {
        CHECK(m.value->rfind("v10", 0) == 0);
    }
    // Nothing else arrives (a bounded look, not a synchronisation).
    CHECK_FALSE(consumer->poll(300ms));
}

TEST_CASE("a group member commits what it stored and the next member goes on from there", "[consumer]") {
    Mock mock;
    mock.topic("commands", 1);
    mock.write("commands", numbered(0, 5));
    {
        auto first = mock.consumer(std::string("g1"));
        REQUIRE(first->subscribe({"commands"}).ok());
        const auto messages = test_support::read_messages(*first, 5);
        REQUIRE(messages.size() == 5);
        CHECK(*messages.front().value == "v0");
        // Only the first three are handled.
        first->store("commands", 0, messages[2].offset + 1);
        first->close();
    }
    auto second = mock.consumer(std::string("g1"));
    REQUIRE(second->subscribe({"commands"}).ok());
    const auto rest = test_support::read_messages(*second, 2);
    REQUIRE(rest.size() == 2);
    CHECK(*rest[0].value == "v3");
    CHECK(*rest[1].value == "v4");
}
