#include "gateway/config/config.hpp"

namespace gateway::config {

kafka_bridge::ConsumerConfig consumer_config(const Config& config) {
    kafka_bridge::ConsumerConfig c;
    c.brokers = config.kafka.brokers;
    c.properties = config.kafka.properties;
    c.log = config.kafka.log;
    for (const char* p : {"enable.idempotence", "acks", "max.in.flight.requests.per.connection",
                          "linger.ms", "message.timeout.ms", "queue.buffering.max.messages",
                          "partitioner", "compression.type", "batch.size"}) {
        c.properties.erase(p);
    }
    return c;
}

}  // namespace gateway::config
