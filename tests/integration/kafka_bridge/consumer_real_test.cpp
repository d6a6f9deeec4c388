// The table consumer against a real Apache Kafka broker: reading from a time (the mock cluster
// answers no offset lookups by timestamp).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "integration/kafka_reader.hpp"
#include "consumer_support.hpp"
#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/producer.hpp"

using kafka_bridge::Consumer;
using kafka_bridge::ConsumerConfig;
using kafka_bridge::Producer;
using kafka_bridge::ProducerConfig;
using namespace std::chrono_literals;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Writes `values` (keys cycle over five stations) and waits until each is acknowledged.
void write(Producer& producer, const std::string& topic, const std::vector<std::string>& values) {
    std::size_t acked = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        REQUIRE(producer
                    .produce({topic, "CP-" + std::to_string(i % 5), values[i], {}},
                             [&acked](const kafka_bridge::Delivery& d) {
                                 REQUIRE(d.ok());
                                 ++acked;
                             })
                    .ok());
    }
    REQUIRE(producer.flush(30s).ok());
    producer.poll(0ms);
    REQUIRE(acked == values.size());
}

std::unique_ptr<Consumer> table_consumer() {
    ConsumerConfig config;
    config.brokers = test_support::test_brokers();
    auto created = Consumer::create(config);
    REQUIRE(created.ok());
    return std::move(created.value());
}

}  // namespace

TEST_CASE("a table reader from a time starts at the first record written at or after it",
          "[consumer][kafka]") {
    ProducerConfig config;
    config.brokers = test_support::test_brokers();
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    Producer& producer = *created.value();
    const std::string topic =
        "ocpp.it.since." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    REQUIRE(producer.ensure_topics({{topic, 2, -1, {}}}, 30s).ok());
    REQUIRE(producer.wait_partitions_ready(topic, 30s).ok());

    write(producer, topic, {"old-0", "old-1", "old-2", "old-3", "old-4", "old-5"});
    // Records get their timestamps when produced: the next ones are at or after `since`.
    const std::int64_t since = now_ms() + 1;
    while (now_ms() < since) {
        std::this_thread::yield();
    }
    write(producer, topic, {"new-0", "new-1", "new-2"});

    auto consumer = table_consumer();
    auto marks = consumer->assign_all({{topic, Consumer::Start::since}}, 10s, since);
    REQUIRE(marks.ok());
    REQUIRE(marks.value().size() == 2);
    std::int64_t to_read = 0;
    for (const auto& [partition, mark] : marks.value()) {
        CHECK(mark.first <= mark.second);
        to_read += mark.second - mark.first;
    }
    CHECK(to_read == 3);
    // The end offsets asked now are the ends at assignment: nothing was written since.
    auto ends = consumer->end_offsets(topic, 10s);
    REQUIRE(ends.ok());
    REQUIRE(ends.value().size() == 2);
    for (const auto& [partition, mark] : marks.value()) {
        CHECK(ends.value().at(partition.second) == mark.second);
    }
    CHECK_FALSE(consumer->end_offsets("ocpp.it.not-assigned", 1s).ok());
    const auto messages = test_support::read_messages(*consumer, 3);
    REQUIRE(messages.size() == 3);
    for (const auto& m : messages) {
        CHECK(m.value->rfind("new-", 0) == 0);
        CHECK(m.timestamp_ms >= since);
    }
    CHECK_FALSE(consumer->poll(300ms));  // a bounded look for a fourth, not a synchronisation

    // A time after every record: each partition is read from its end.
    auto later = table_consumer();
    auto none = later->assign_all({{topic, Consumer::Start::since}}, 10s, now_ms() + 60000);
    REQUIRE(none.ok());
    for (const auto& [partition, mark] : none.value()) {
        CHECK(mark.first == mark.second);
    }
    write(producer, topic, {"after-0"});
    const auto after = test_support::read_messages(*later, 1);
    REQUIRE(after.size() == 1);
    CHECK(*after[0].value == "after-0");
}

namespace {

/// Writes `values` to partition 0 of `topic` in one transaction, committed or aborted.
void write_transaction(const std::string& topic, const std::vector<std::string>& values, bool commit) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", test_support::test_brokers().c_str(), err, sizeof err) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "transactional.id", ("ocpp.it.txn." + topic).c_str(), err, sizeof err) == RD_KAFKA_CONF_OK);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    auto done = [](rd_kafka_error_t* error) {
        const std::string what = error != nullptr ? rd_kafka_error_string(error) : "";
        if (error != nullptr) {
            rd_kafka_error_destroy(error);
        }
        return what;
    };
    CHECK(done(rd_kafka_init_transactions(rk, 30000)).empty());
    CHECK(done(rd_kafka_begin_transaction(rk)).empty());
    for (const auto& value : values) {
        CHECK(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY("CS-1", 4),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    CHECK(done(commit ? rd_kafka_commit_transaction(rk, 30000) : rd_kafka_abort_transaction(rk, 30000)).empty());
    rd_kafka_destroy(rk);
}

}  // namespace

TEST_CASE("a table written in transactions is read to its end, past the markers that end it",
          "[consumer][kafka]") {
    ProducerConfig config;
    config.brokers = test_support::test_brokers();
    auto created = Producer::create(config);
    REQUIRE(created.ok());
    const std::string topic =
        "ocpp.it.txn." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    REQUIRE(created.value()->ensure_topics({{topic, 1, -1, {}}}, 30s).ok());
    REQUIRE(created.value()->wait_partitions_ready(topic, 30s).ok());
    write_transaction(topic, {"kept-0", "kept-1"}, true);
    write_transaction(topic, {"dropped"}, false);  // the last offset is its abort marker

    auto consumer = table_consumer();
    auto marks = consumer->assign_all({{topic, Consumer::Start::beginning}}, 10s);
    REQUIRE(marks.ok());
    REQUIRE(marks.value().size() == 1);
    // Read committed: at least the two records and their commit marker; the aborted record
    // and its marker too once the coordinator has written that marker (it does so after the
    // abort returns).
    const std::int64_t end = marks.value().begin()->second.second;
    CHECK((end == 3 || end == 5));
    kafka_bridge::ReadToEnd behind(marks.value());
    std::vector<std::string> values;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!behind.done() && std::chrono::steady_clock::now() < deadline) {
        const auto message = consumer->poll(100ms);
        if (message) {
            values.push_back(message->value.value_or(""));
        }
        behind.after_poll(*consumer, message ? &*message : nullptr);
        if (message) {
            CHECK_FALSE(behind.done());  // no record sits at the last offset
        }
    }
    CHECK(behind.done());
    CHECK(behind.describe().empty());
    CHECK(values == std::vector<std::string>{"kept-0", "kept-1"});
}
