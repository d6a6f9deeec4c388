// The Kafka settings checked at start: kafka.properties (and a tenant's own) against the
// settings the gateway has for the same thing (a property that would contradict what the
// gateway relies on is refused, naming the setting to use instead; the delivery timeout given
// as a property is the gateway's as well), the frame limit against the producer's, and what
// librdkafka itself would refuse.
#include <array>

#include "gateway/config/config.hpp"
#include "gateway/config/options.hpp"
#include "kafka_bridge/producer.hpp"

namespace gateway::config {
namespace {

struct Claimed {
    const char* property;
    const char* instead;
};

// Properties the gateway sets from a setting of its own, or relies on the value of.
constexpr std::array<Claimed, 8> kClaimed = {{
    {"bootstrap.servers", "kafka.brokers (--kafka-brokers), or tenant_kafka.brokers for a tenant"},
    {"metadata.broker.list", "kafka.brokers (--kafka-brokers), or tenant_kafka.brokers for a tenant"},
    {"group.id", "commands.group (--commands-group); the gateway's other consumers join no group"},
    {"session.timeout.ms", "commands.group_session_timeout_ms"},
    {"enable.auto.commit", "nothing: the command consumer commits what it has handled, every second"},
    {"enable.auto.offset.store", "nothing: a command's offset is stored only once it is handled"},
    {"isolation.level", "nothing: the gateway reads committed records only (a table written in "
                        "transactions included)"},
    {"transactional.id", "nothing: the gateway's producer is idempotent, and its records are not "
                         "written in transactions"},
}};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

/// A message the listener takes must fit in a record the producer takes: with a frame limit
/// above librdkafka's message.max.bytes, every message between the two would be read, then
/// refused as too large for Kafka (README "Handshake"). `where` names the properties' key.
void check_record_room(const Config& c, const std::map<std::string, std::string>& properties,
                       const std::string& where) {
    constexpr long long kLibrdkafkaDefault = 1000000;  // librdkafka's message.max.bytes
    long long producer_limit = kLibrdkafkaDefault;
    if (const auto it = properties.find("message.max.bytes"); it != properties.end()) {
        producer_limit = parse_integer(it->second, where + " message.max.bytes", 1000, 1000000000);
    }
    const auto frame_limit = static_cast<long long>(c.limits.max_message_bytes);
    if (frame_limit > producer_limit) {
        fail("config limits.max_message_bytes (" + std::to_string(frame_limit) +
             ") is larger than the Kafka producer's message.max.bytes (" +
             std::to_string(producer_limit) + "): messages between the two would be read and "
             "then refused as too large for Kafka. Raise " + where + " message.max.bytes (and "
             "the topics' max.message.bytes on the brokers), or lower the limit");
    }
}

/// What the Kafka producer of `kafka` would refuse when it is made (a property librdkafka does
/// not know or a value it refuses, idempotence weakened), said now: check-config finds it too.
/// Combinations librdkafka checks only when it starts (SSL files, SASL set-up) are left to the
/// start. `brokers_key` and `properties_key` name the settings.
void check_kafka_settings(const kafka_bridge::ProducerConfig& kafka, const std::string& brokers_key,
                          const std::string& properties_key) {
    // librdkafka skips empty entries (a trailing comma is fine); a list of nothing but
    // separators leaves it nowhere to connect, retrying for ever.
    if (kafka.brokers.find_first_not_of(", ") == std::string::npos) {
        fail("config " + brokers_key + ": \"" + kafka.brokers + "\" names no broker; expected "
             "HOST:PORT[,HOST:PORT...]");
    }
    if (auto checked = kafka_bridge::Producer::check_settings(kafka); !checked.ok()) {
        fail("config " + properties_key + ": " + checked.error().message());
    }
}

}  // namespace

void settle_kafka_properties(kafka_bridge::ProducerConfig& kafka, const std::string& key) {
    for (const auto& claimed : kClaimed) {
        if (kafka.properties.count(claimed.property) != 0) {
            throw std::runtime_error("config " + key + ": " + claimed.property + " is the gateway's; set " +
                                     claimed.instead);
        }
    }
    if (kafka.adaptive_batching) {
        for (const char* linger : {"linger.ms", "queue.buffering.max.ms"}) {
            if (kafka.properties.count(linger) != 0) {
                throw std::runtime_error("config " + key + ": " + linger + " contradicts kafka.batching adaptive, "
                                         "which sends without a linger; use kafka.batching linger and "
                                         "kafka.linger_ms");
            }
        }
    }
    // The sessions wait for room in a full queue as long as a record may wait for Kafka: one
    // value for both.
    if (kafka.properties.count("message.timeout.ms") != 0 && kafka.properties.count("delivery.timeout.ms") != 0) {
        throw std::runtime_error("config " + key + ": message.timeout.ms and delivery.timeout.ms are one "
                                 "property under two names; give one");
    }
    for (const char* timeout : {"message.timeout.ms", "delivery.timeout.ms"}) {
        if (const auto it = kafka.properties.find(timeout); it != kafka.properties.end()) {
            kafka.delivery_timeout = std::chrono::milliseconds(
                parse_integer(it->second, "config " + key + " " + timeout, 1000, 300000));
        }
    }
}

void check_kafka(Config& c) {
    settle_kafka_properties(c.kafka, "kafka.properties");
    check_record_room(c, c.kafka.properties, "kafka.properties");
    check_kafka_settings(c.kafka, "kafka brokers", "kafka.properties");
    for (const auto& tenant : c.tenants) {
        if (has_own_cluster(c, tenant)) {
            // Its own properties replace kafka.properties (librdkafka's defaults without them).
            const auto kafka = tenant_config(c, tenant).kafka;
            const std::string key = "tenant_kafka.properties." + tenant.name;
            check_record_room(c, kafka.properties, key);
            check_kafka_settings(kafka, "tenant_kafka.brokers." + tenant.name, key);
        }
    }
}

}  // namespace gateway::config
