// Start-up refuses what the Kafka producer would refuse later: a frame limit above its
// message.max.bytes, properties librdkafka does not take, a broker list naming no broker.
#include <catch2/catch.hpp>

#include <filesystem>

#include "unit/gateway/config/parse.hpp"

using config_test::parse;
using config_test::write_yaml;

TEST_CASE("a frame limit above what the producer takes stops start-up", "[config]") {
    using Catch::Contains;
    // Above librdkafka's default message.max.bytes (1,000,000): refused, naming both settings.
    const auto big = write_yaml("frame-limit", "limits:\n  max_message_bytes: 2000000\n");
    CHECK_THROWS_WITH(parse({"--config", big}),
                      Contains("limits.max_message_bytes (2000000)") &&
                          Contains("message.max.bytes (1000000)"));
    // Raised together with the producer's limit: taken.
    const auto c = parse({"--config", big, "--kafka-property", "message.max.bytes=3000000"}).config;
    CHECK(c.limits.max_message_bytes == 2000000);
    CHECK_THROWS_WITH(parse({"--config", big, "--kafka-property", "message.max.bytes=1500000"}),
                      Contains("message.max.bytes (1500000)"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "message.max.bytes=lots"}),
                      Contains("kafka.properties message.max.bytes"));
    // At the default limit (256 KiB) a smaller producer limit is refused as well.
    CHECK_THROWS_WITH(parse({"--kafka-property", "message.max.bytes=100000"}),
                      Contains("limits.max_message_bytes (262144)"));
    // A tenant on a cluster of its own without properties has librdkafka's default limit,
    // however far kafka.properties raised it.
    const auto tenant = write_yaml("frame-limit-tenant",
                                   "limits:\n  max_message_bytes: 2000000\n"
                                   "kafka:\n  properties: {message.max.bytes: 3000000}\n"
                                   "tenants: [\"north\", \"south\"]\n"
                                   "tenant_kafka:\n  brokers: {south: \"eu-1:9092\"}\n");
    CHECK_THROWS_WITH(parse({"--config", tenant}),
                      Contains("message.max.bytes (1000000)") &&
                          Contains("Raise tenant_kafka.properties.south message.max.bytes"));
    std::filesystem::remove(big);
    std::filesystem::remove(tenant);
}

TEST_CASE("Kafka settings the producer would refuse stop start-up", "[config]") {
    using Catch::Contains;
    // What librdkafka refuses, said before anything connects (check-config reads the same).
    CHECK_THROWS_WITH(parse({"--kafka-property", "bogus.prop=1"}),
                      Contains("config kafka.properties: Kafka property bogus.prop") &&
                          Contains("No such configuration property"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "linger.ms=soon"}),
                      Contains("Kafka property linger.ms: Invalid value"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "acks=1"}), Contains("acks must be all"));
    CHECK_THROWS_WITH(parse({"--kafka-brokers", ",,,"}),
                      Contains("config kafka brokers: \",,,\" names no broker"));
    // librdkafka skips empty entries; a consumer-only property is no error either.
    CHECK(parse({"--kafka-brokers", "a:9092,,b:9092,", "--kafka-property", "fetch.wait.max.ms=10"})
              .config.kafka.brokers == "a:9092,,b:9092,");
    // A tenant's own cluster is checked with its own properties (they replace kafka.properties).
    const auto tenants = write_yaml("tenant-kafka-checked",
                                    "tenants: [\"north\", \"south\"]\n"
                                    "tenant_kafka:\n  brokers: {south: \" , \"}\n");
    CHECK_THROWS_WITH(parse({"--config", tenants}), Contains("config tenant_kafka.brokers.south"));
    const auto tenant_prop = write_yaml("tenant-kafka-prop",
                                        "tenants: [\"north\", \"south\"]\n"
                                        "tenant_kafka:\n  brokers: {south: \"eu-1:9092\"}\n"
                                        "  properties: {south.bogus.prop: 1}\n");
    CHECK_THROWS_WITH(parse({"--config", tenant_prop}),
                      Contains("config tenant_kafka.properties.south: Kafka property bogus.prop"));
    std::filesystem::remove(tenants);
    std::filesystem::remove(tenant_prop);
}

TEST_CASE("Kafka properties that contradict the gateway's own settings are refused, naming the setting", "[config]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(parse({"--kafka-property", "bootstrap.servers=elsewhere:9092"}),
                      Contains("config kafka.properties: bootstrap.servers is the gateway's; set kafka.brokers"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "group.id=mine"}), Contains("set commands.group"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "session.timeout.ms=30000"}),
                      Contains("set commands.group_session_timeout_ms"));
    for (const char* relied_on : {"enable.auto.offset.store=true", "enable.auto.commit=false",
                                  "isolation.level=read_uncommitted", "transactional.id=x"}) {
        INFO(relied_on);
        CHECK_THROWS_WITH(parse({"--kafka-property", relied_on}), Contains("is the gateway's"));
    }
    const auto adaptive = write_yaml("adaptive-linger", "kafka:\n  batching: adaptive\n  properties: {linger.ms: 5}\n");
    CHECK_THROWS_WITH(parse({"--config", adaptive}), Contains("linger.ms contradicts kafka.batching adaptive"));
    CHECK(parse({"--kafka-property", "linger.ms=5"}).config.kafka.properties.at("linger.ms") == "5");
    // The delivery timeout given as a property is the one the sessions wait by, in the same range.
    CHECK(parse({"--kafka-property", "message.timeout.ms=5000"}).config.kafka.delivery_timeout ==
          std::chrono::milliseconds(5000));
    CHECK(parse({"--kafka-property", "delivery.timeout.ms=7000"}).config.kafka.delivery_timeout ==
          std::chrono::milliseconds(7000));
    CHECK_THROWS_WITH(parse({"--kafka-property", "message.timeout.ms=0"}),
                      Contains("config kafka.properties message.timeout.ms"));
    CHECK_THROWS_WITH(parse({"--kafka-property", "message.timeout.ms=60000", "--kafka-property", "delivery.timeout.ms=120000"}),
                      Contains("one property under two names"));
    // A tenant's own properties are held to the same.
    const auto tenant = write_yaml("tenant-claimed",
                                   "tenants: [\"north\", \"south\"]\n"
                                   "tenant_kafka:\n  brokers: {south: \"eu-1:9092\"}\n"
                                   "  properties: {south.group.id: theirs}\n");
    CHECK_THROWS_WITH(parse({"--config", tenant}),
                      Contains("config tenant_kafka.properties.south: group.id is the gateway's"));
    std::filesystem::remove(adaptive);
    std::filesystem::remove(tenant);
}
