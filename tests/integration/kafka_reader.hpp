#pragma once

// Reads a topic back from a real broker, for integration tests: every record from the start
// up to the end offsets seen when reading began.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_support {

struct ReadRecord {
    std::int32_t partition;
    std::int64_t offset;
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
};

inline std::string test_brokers() {
    const char* brokers = std::getenv("OCPP_TEST_KAFKA_BROKERS");
    return brokers != nullptr ? brokers : "127.0.0.1:29092";
}

inline std::vector<ReadRecord> read_topic(const std::string& brokers, const std::string& topic,
                                          std::chrono::milliseconds limit) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", "ocpp-test-reader", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr));
    std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> rk(
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)), rd_kafka_destroy);
    if (!rk) {
        throw std::runtime_error(errstr);
    }
    const rd_kafka_metadata_t* metadata = nullptr;
    std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> handle(
        rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr), rd_kafka_topic_destroy);
    if (rd_kafka_metadata(rk.get(), 0, handle.get(), &metadata, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        metadata->topic_cnt != 1) {
        throw std::runtime_error("no metadata for topic " + topic);
    }
    const int partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);

    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(partitions);
    std::vector<std::int64_t> high(static_cast<std::size_t>(partitions), 0);
    std::size_t expected = 0;
    for (int p = 0; p < partitions; ++p) {
        std::int64_t lo = 0;
        std::int64_t hi = 0;
        if (rd_kafka_query_watermark_offsets(rk.get(), topic.c_str(), p, &lo, &hi, 10000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_topic_partition_list_destroy(assignment);
            throw std::runtime_error("no watermarks for " + topic);
        }
        high[static_cast<std::size_t>(p)] = hi;
        expected += static_cast<std::size_t>(hi - lo);
        rd_kafka_topic_partition_list_add(assignment, topic.c_str(), p)->offset = lo;
    }
    rd_kafka_assign(rk.get(), assignment);
    rd_kafka_topic_partition_list_destroy(assignment);

    std::vector<ReadRecord> records;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (records.size() < expected && std::chrono::steady_clock::now() < deadline) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk.get(), 200);
        if (m == nullptr) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            m->offset < high[static_cast<std::size_t>(m->partition)]) {
            ReadRecord r{m->partition, m->offset,
                         std::string(static_cast<const char*>(m->key), m->key_len),
                         std::string(static_cast<const char*>(m->payload), m->len), {}};
            rd_kafka_headers_t* headers = nullptr;
            if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* name = nullptr;
                const void* value = nullptr;
                std::size_t size = 0;
                for (std::size_t i = 0;
                     rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR;
                     ++i) {
                    r.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
                }
            }
            records.push_back(std::move(r));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk.get());
    return records;
}

}  // namespace test_support
