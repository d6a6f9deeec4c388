#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gateway/app/stop_signal.hpp"
#include "gateway/config/config.hpp"
#include "kafka_bridge/producer_slot.hpp"

namespace gateway::app {

/// Every topic the gateway writes or reads, with the settings it creates them with.
std::vector<kafka_bridge::TopicSpec> required_topics(const config::Config& config);

/// What waiting for Kafka ended with.
enum class Readiness { ready, stopped, unusable };

/// Waits until Kafka answers and the topics exist (created when `config.create_topics`),
/// retrying every 2 s until `stop`; then checks that every partition has opened its log and
/// that the transaction-id topic has exactly one partition. `unusable` comes with the problem
/// in words in `problem`.
Readiness wait_for_kafka(const config::Config& config, kafka_bridge::ProducerSlot& producers,
                         StopSignal& stop, std::string& problem);

}  // namespace gateway::app
