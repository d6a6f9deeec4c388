// The producer against librdkafka's in-process mock cluster: what its tests share.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kafka_bridge/producer.hpp"

namespace test_support {

// The Kafka protocol ApiKey of Produce (librdkafka keeps its table in a private header).
inline constexpr std::int16_t kProduceApiKey = 0;

struct Collected {
    std::vector<kafka_bridge::Delivery> deliveries;
};

inline std::unique_ptr<kafka_bridge::Producer> mock_producer(
    kafka_bridge::ProducerConfig config = {}) {
    config.brokers = "";
    config.properties["test.mock.num.brokers"] = "3";
    auto created = kafka_bridge::Producer::create(config);
    REQUIRE(created.ok());
    return std::move(created.value());
}

inline rd_kafka_mock_cluster_t* cluster_of(const kafka_bridge::Producer& producer) {
    auto* cluster = rd_kafka_handle_mock_cluster(producer.native_handle());
    REQUIRE(cluster != nullptr);
    return cluster;
}

// Polls until `count` reports arrived or `limit` passed; returns how many arrived.
inline std::size_t wait_for(kafka_bridge::Producer& producer, const Collected& collected,
                            std::size_t count,
                            std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (collected.deliveries.size() < count && std::chrono::steady_clock::now() < deadline) {
        producer.poll(std::chrono::milliseconds(50));
    }
    return collected.deliveries.size();
}

inline kafka_bridge::Record record(const std::string& topic, int i) {
    return kafka_bridge::Record{topic, "CP" + std::to_string(i % 7),
                                "{\"n\":" + std::to_string(i) + "}",
                                {{"ocpp-action", "Heartbeat"}}};
}

}  // namespace test_support
