// kafka.properties (and a tenant's own) against the settings the gateway has for the same
// thing: a property that would contradict what the gateway relies on is refused, naming the
// setting to use instead; the delivery timeout given as a property is the gateway's as well.
#include <array>

#include "gateway/config/config.hpp"
#include "gateway/config/options.hpp"

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

}  // namespace gateway::config
