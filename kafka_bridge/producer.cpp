#include "kafka_bridge/producer.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace kafka_bridge {
namespace {

Error from_code(rd_kafka_resp_err_t code, std::string message = {}) {
    if (message.empty()) {
        message = rd_kafka_err2str(code);
    }
    const bool retriable = code == RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                           code == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                           code == RD_KAFKA_RESP_ERR__TRANSPORT ||
                           code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
                           code == RD_KAFKA_RESP_ERR__TIMED_OUT;
    return Error(code, std::move(message), code == RD_KAFKA_RESP_ERR__FATAL, retriable);
}

Error config_error(std::string message) {
    return Error(RD_KAFKA_RESP_ERR__INVALID_ARG, std::move(message));
}

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};

std::optional<std::string> conf_get(rd_kafka_conf_t* conf, const char* name) {
    char buffer[512];
    std::size_t size = sizeof(buffer);
    if (rd_kafka_conf_get(conf, name, buffer, &size) != RD_KAFKA_CONF_OK) {
        return std::nullopt;
    }
    return std::string(buffer);
}

// Settings the producer relies on; a user property may not weaken them.
Result<Ok, Error> check_idempotence(rd_kafka_conf_t* conf) {
    const auto idempotence = conf_get(conf, "enable.idempotence");
    if (idempotence != "true") {
        return config_error("enable.idempotence must stay true: the gateway acknowledges "
                            "stations only for records written exactly once");
    }
    const auto acks = conf_get(conf, "acks");
    if (acks != "-1" && acks != "all") {
        return config_error("acks must be all (-1): a record is acknowledged to the station "
                            "only once every in-sync replica has it");
    }
    if (conf_get(conf, "allow.auto.create.topics") != "false") {
        return config_error("allow.auto.create.topics must stay false: a topic the gateway writes "
                            "to must exist with its intended settings (a broker's defaults would "
                            "give ocpp.transaction-ids several partitions); create topics with "
                            "kafka.create_topics or beforehand");
    }
    const auto in_flight = conf_get(conf, "max.in.flight.requests.per.connection");
    if (!in_flight || std::atoi(in_flight->c_str()) > 5 || std::atoi(in_flight->c_str()) < 1) {
        return config_error("max.in.flight.requests.per.connection must be 1..5 for "
                            "idempotent, ordered delivery");
    }
    return Ok{};
}

}  // namespace

void Producer::HandleDeleter::operator()(rd_kafka_s* handle) const { rd_kafka_destroy(handle); }

Result<std::unique_ptr<Producer>, Error> Producer::create(const ProducerConfig& config) {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    char errstr[512];
    auto set = [&](const std::string& name, const std::string& value) -> Result<Ok, Error> {
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            return config_error("Kafka property " + name + ": " + errstr);
        }
        return Ok{};
    };

    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"bootstrap.servers", config.brokers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"max.in.flight.requests.per.connection", "5"},
        {"message.timeout.ms", std::to_string(config.delivery_timeout.count())},
        {"linger.ms", std::to_string(config.linger.count())},
        {"queue.buffering.max.messages", std::to_string(config.max_queued_messages)},
        {"partitioner", "murmur2_random"},  // same key → partition mapping as Java clients
        // Retry a lost broker within a second: a station waits for its answer meanwhile.
        {"reconnect.backoff.max.ms", "1000"},
        // Never let a broker create a missing topic with its defaults behind the gateway's back.
        {"allow.auto.create.topics", "false"},
        // Partitions added to a topic are used within half a minute (default 5 minutes).
        {"topic.metadata.refresh.interval.ms", "30000"},
    };
    for (const auto& [name, value] : defaults) {
        if (auto r = set(name, value); !r.ok()) {
            return r.error();
        }
    }
    for (const auto& [name, value] : config.properties) {
        if (auto r = set(name, value); !r.ok()) {
            return r.error();
        }
    }
    if (auto r = check_idempotence(conf.get()); !r.ok()) {
        return r.error();
    }

    std::unique_ptr<Producer> producer(new Producer());
    rd_kafka_conf_set_opaque(conf.get(), producer.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t* rk, const rd_kafka_message_t* m,
                                               void* opaque) {
        Producer::on_delivery_report(rk, m, opaque);
    });
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t* rk, int err, const char* reason,
                                              void* opaque) {
        Producer::on_error(rk, err, reason, opaque);
    });

    if (config.log) {
        producer->log_ = config.log;
        rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t* rk, int level, const char* fac,
                                                const char* buf) {
            auto* self = static_cast<Producer*>(rd_kafka_opaque(rk));
            if (self != nullptr && self->log_) {
                self->log_(level, fac, buf);
            }
        });
    }

    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
    if (rk == nullptr) {
        return config_error(std::string("cannot create the Kafka producer: ") + errstr);
    }
    static_cast<void>(conf.release());  // owned by rk now
    producer->handle_.reset(rk);
    return producer;
}

Producer::~Producer() {
    if (!handle_) {
        return;
    }
    // Report every record still queued as failed, so no callback is left dangling. The owner
    // flushes first when it wants them delivered.
    rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                      RD_KAFKA_PURGE_F_NON_BLOCKING);
    for (int round = 0; round < 50 && rd_kafka_outq_len(handle_.get()) > 0; ++round) {
        rd_kafka_poll(handle_.get(), 100);
    }
}

Result<Ok, Error> Producer::produce(const Record& record, DeliveryCallback on_delivery) {
    if (fatal_.load(std::memory_order_acquire)) {
        return record_fatal(handle_.get());
    }
    rd_kafka_headers_t* headers = nullptr;
    if (!record.headers.empty()) {
        headers = rd_kafka_headers_new(record.headers.size());
        for (const auto& [name, value] : record.headers) {
            rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()),
                                value.data(), static_cast<ssize_t>(value.size()));
        }
    }
    auto callback = std::make_unique<DeliveryCallback>(std::move(on_delivery));
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        handle_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(record.key.data()), record.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (headers != nullptr) {
            rd_kafka_headers_destroy(headers);
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            // librdkafka may refuse the record before the error callback has run.
            return record_fatal(handle_.get());
        }
        return from_code(err);
    }
    static_cast<void>(callback.release());  // owned by the queued record until its delivery report
    return Ok{};
}

void Producer::on_delivery_report(rd_kafka_s* /*rk*/, const void* message, void* /*opaque*/) {
    const auto* m = static_cast<const rd_kafka_message_t*>(message);
    std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(m->_private));
    if (!callback || !*callback) {
        return;
    }
    Delivery delivery;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        delivery.error = from_code(m->err);
        delivery.possibly_persisted =
            rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
    } else {
        delivery.partition = m->partition;
        delivery.offset = m->offset;
    }
    try {
        (*callback)(delivery);
    } catch (...) {
        // A callback must not throw into librdkafka; nothing sensible can be done here.
    }
}

Error Producer::record_fatal(rd_kafka_s* rk) {
    char buffer[512] = {};
    const rd_kafka_resp_err_t original = rd_kafka_fatal_error(rk, buffer, sizeof(buffer));
    std::lock_guard<std::mutex> lock(mutex_);
    if (!fatal_error_) {
        fatal_error_ = Error(RD_KAFKA_RESP_ERR__FATAL,
                             std::string(rd_kafka_err2name(original)) + ": " + buffer, true, false);
    }
    fatal_.store(true, std::memory_order_release);
    return *fatal_error_;
}

void Producer::on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        self->record_fatal(rk);
        return;
    }
    std::lock_guard<std::mutex> lock(self->mutex_);
    self->transport_error_ = from_code(static_cast<rd_kafka_resp_err_t>(err), reason);
}

int Producer::poll(std::chrono::milliseconds timeout) {
    return rd_kafka_poll(handle_.get(), static_cast<int>(timeout.count()));
}

void Producer::set_wakeup_fd(int fd) {
    static constexpr std::uint64_t kIncrement = 1;  // what an eventfd accepts: 8 bytes
    rd_kafka_queue_t* queue = rd_kafka_queue_get_main(handle_.get());
    rd_kafka_queue_io_event_enable(queue, fd, &kIncrement, sizeof(kIncrement));
    rd_kafka_queue_destroy(queue);  // the setting stays with the queue
}

bool Producer::notice_fatal_error() {
    if (fatal_.load(std::memory_order_acquire)) {
        return true;
    }
    if (rd_kafka_fatal_error(handle_.get(), nullptr, 0) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return false;
    }
    record_fatal(handle_.get());
    return true;
}

Result<Ok, Error> Producer::flush(std::chrono::milliseconds timeout) {
    const rd_kafka_resp_err_t err =
        rd_kafka_flush(handle_.get(), static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, std::to_string(queue_depth()) + " records still queued after " +
                                  std::to_string(timeout.count()) + " ms");
    }
    return Ok{};
}

Result<Ok, Error> Producer::ensure_topics(const std::vector<TopicSpec>& topics,
                                          std::chrono::milliseconds timeout) {
    if (topics.empty()) {
        return Ok{};
    }
    char errstr[512];
    std::vector<rd_kafka_NewTopic_t*> new_topics;
    auto destroy_all = [&] {
        rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
    };
    for (const auto& t : topics) {
        rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.name.c_str(), t.partitions,
                                                        t.replication, errstr, sizeof(errstr));
        if (nt == nullptr) {
            destroy_all();
            return config_error("topic " + t.name + ": " + errstr);
        }
        for (const auto& [name, value] : t.config) {
            rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str());
        }
        new_topics.push_back(nt);
    }
    rd_kafka_queue_t* queue = rd_kafka_queue_new(handle_.get());
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
    rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()),
                                                errstr, sizeof(errstr));
    rd_kafka_CreateTopics(handle_.get(), new_topics.data(), new_topics.size(), options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
    Result<Ok, Error> outcome = Ok{};
    if (event == nullptr) {
        outcome = Error(RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer to CreateTopics", false, true);
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        outcome = from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    } else {
        const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
        std::size_t count = 0;
        const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
        for (std::size_t i = 0; i < count; ++i) {
            const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                const char* msg = rd_kafka_topic_result_error_string(results[i]);
                outcome = from_code(err, std::string("topic ") + rd_kafka_topic_result_name(results[i]) +
                                             ": " + (msg != nullptr ? msg : rd_kafka_err2str(err)));
                break;
            }
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    destroy_all();
    return outcome;
}

Result<int, Error> Producer::partition_count(const std::string& topic,
                                             std::chrono::milliseconds timeout) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(handle_.get(), 0, handle, &metadata, static_cast<int>(timeout.count()));
    rd_kafka_topic_destroy(handle);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err);
    }
    Result<int, Error> outcome = metadata->topic_cnt == 1 && metadata->topics[0].err == 0
                                     ? Result<int, Error>(metadata->topics[0].partition_cnt)
                                     : Result<int, Error>(from_code(
                                           RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                           "topic " + topic + " does not exist"));
    rd_kafka_metadata_destroy(metadata);
    return outcome;
}

Result<Ok, Error> Producer::wait_partitions_ready(const std::string& topic,
                                                  std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    // A topic created a moment ago is not in every broker's metadata yet (and is never
    // auto-created by asking): ask again until it is, within the timeout.
    auto partitions = partition_count(topic, timeout);
    while (!partitions.ok() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // start-up only
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        partitions = partition_count(topic, std::max(left, std::chrono::milliseconds(100)));
    }
    if (!partitions.ok()) {
        return partitions.error();
    }
    for (int p = 0; p < partitions.value(); ++p) {
        while (true) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                handle_.get(), topic.c_str(), p, &low, &high,
                static_cast<int>(std::max<std::int64_t>(left.count(), 100)));
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                return from_code(err, "partition " + std::to_string(p) + " of " + topic +
                                          " is not ready: " + rd_kafka_err2str(err));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // start-up only
        }
    }
    return Ok{};
}

Result<Ok, Error> Producer::check_cluster(std::chrono::milliseconds timeout,
                                          const std::string& topic) {
    rd_kafka_topic_t* only =
        topic.empty() ? nullptr : rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, only, &metadata,
                                                      static_cast<int>(timeout.count()));
    if (only != nullptr) {
        rd_kafka_topic_destroy(only);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err);
    }
    const bool has_brokers = metadata->broker_cnt > 0;
    rd_kafka_metadata_destroy(metadata);
    if (!has_brokers) {
        return from_code(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
    }
    return Ok{};
}

Result<Ok, Error> Producer::inject_fatal_error(const std::string& reason) {
    const rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
        handle_.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "could not inject a fatal error");
    }
    return Ok{};
}

Result<int, Error> Producer::broker_count(std::chrono::milliseconds timeout) {
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, nullptr, &metadata,
                                                      static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err);
    }
    const int brokers = metadata->broker_cnt;
    rd_kafka_metadata_destroy(metadata);
    return brokers;
}

namespace {

/// The value of `name` in a DescribeConfigs result for one resource, or an error.
Result<std::string, Error> described_config(rd_kafka_event_t* event, const std::string& name) {
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    }
    const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(event);
    std::size_t count = 0;
    const rd_kafka_ConfigResource_t** resources =
        rd_kafka_DescribeConfigs_result_resources(result, &count);
    if (count != 1) {
        return from_code(RD_KAFKA_RESP_ERR__BAD_MSG, "DescribeConfigs answered for " +
                                                         std::to_string(count) + " resources");
    }
    if (const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[0]);
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* msg = rd_kafka_ConfigResource_error_string(resources[0]);
        return from_code(err, msg != nullptr ? msg : rd_kafka_err2str(err));
    }
    std::size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(resources[0], &entries);
    for (std::size_t i = 0; i < entries; ++i) {
        const char* value = rd_kafka_ConfigEntry_value(configs[i]);
        if (name == rd_kafka_ConfigEntry_name(configs[i]) && value != nullptr) {
            return std::string(value);
        }
    }
    return from_code(RD_KAFKA_RESP_ERR__NOENT, "no " + name + " in the topic's configs");
}

}  // namespace

Result<TopicDurability, Error> Producer::topic_durability(const std::string& topic,
                                                          std::chrono::milliseconds timeout) {
    TopicDurability durability;
    {
        rd_kafka_topic_t* handle = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
        const rd_kafka_metadata_t* metadata = nullptr;
        const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, handle, &metadata,
                                                          static_cast<int>(timeout.count()));
        rd_kafka_topic_destroy(handle);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return from_code(err);
        }
        const bool known = metadata->topic_cnt == 1 && metadata->topics[0].err == 0 &&
                           metadata->topics[0].partition_cnt > 0;
        if (known) {
            const auto& t = metadata->topics[0];
            durability.replication = t.partitions[0].replica_cnt;
            for (int i = 1; i < t.partition_cnt; ++i) {
                durability.replication = std::min(durability.replication, t.partitions[i].replica_cnt);
            }
        }
        rd_kafka_metadata_destroy(metadata);
        if (!known) {
            return from_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "topic " + topic + " does not exist");
        }
    }
    char errstr[512];
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    rd_kafka_queue_t* queue = rd_kafka_queue_new(handle_.get());
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
    rd_kafka_DescribeConfigs(handle_.get(), &resource, 1, options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
    Result<std::string, Error> value =
        event == nullptr
            ? Result<std::string, Error>(
                  Error(RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer to DescribeConfigs", false, true))
            : described_config(event, "min.insync.replicas");
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_ConfigResource_destroy(resource);
    if (!value.ok()) {
        return value.error();
    }
    durability.min_insync_replicas = std::atoi(value.value().c_str());
    return durability;
}

Result<std::map<std::string, TopicState>, Error> Producer::describe_topics(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
    std::map<std::string, TopicState> states;
    if (topics.empty()) {
        return states;
    }
#if RD_KAFKA_VERSION >= 0x020300ff
    // DescribeTopics (librdkafka 2.3+) gives topic ids, which tell a recreated topic apart.
    std::vector<const char*> names;
    names.reserve(topics.size());
    for (const auto& t : topics) {
        names.push_back(t.c_str());
    }
    char errstr[512];
    rd_kafka_TopicCollection_t* collection =
        rd_kafka_TopicCollection_of_topic_names(names.data(), names.size());
    rd_kafka_queue_t* queue = rd_kafka_queue_new(handle_.get());
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_DESCRIBETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
    rd_kafka_DescribeTopics(handle_.get(), collection, options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
    std::optional<Error> failed;
    if (event == nullptr) {
        failed = Error(RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer to DescribeTopics", false, true);
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed = from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    } else {
        std::size_t count = 0;
        const rd_kafka_TopicDescription_t** described = rd_kafka_DescribeTopics_result_topics(
            rd_kafka_event_DescribeTopics_result(event), &count);
        for (std::size_t i = 0; i < count; ++i) {
            const rd_kafka_error_t* error = rd_kafka_TopicDescription_error(described[i]);
            const rd_kafka_resp_err_t code =
                error != nullptr ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
            TopicState state;
            if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
                std::size_t partitions = 0;
                rd_kafka_TopicDescription_partitions(described[i], &partitions);
                state.exists = true;
                state.partitions = static_cast<int>(partitions);
                if (const rd_kafka_Uuid_t* id = rd_kafka_TopicDescription_topic_id(described[i])) {
                    const char* text = rd_kafka_Uuid_base64str(id);
                    state.id = text != nullptr ? text : "";
                }
            } else if (code != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                continue;
            }
            states[rd_kafka_TopicDescription_name(described[i])] = std::move(state);
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_TopicCollection_destroy(collection);
    if (failed) {
        return *failed;
    }
#else
    // Older librdkafka: metadata only, no ids (a recreated topic is seen only when its
    // partition count differs).
    for (const auto& t : topics) {
        auto partitions = partition_count(t, timeout);
        if (partitions.ok()) {
            states[t] = TopicState{true, "", partitions.value()};
        } else if (partitions.error().code() == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            states[t] = TopicState{};
        } else if (partitions.error().is_retriable()) {
            return partitions.error();
        }
    }
#endif
    return states;
}

std::optional<Error> Producer::fatal_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fatal_error_;
}

std::size_t Producer::queue_depth() const {
    return static_cast<std::size_t>(rd_kafka_outq_len(handle_.get()));
}

std::optional<Error> Producer::last_transport_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return transport_error_;
}

std::string librdkafka_version() { return rd_kafka_version_str(); }

bool librdkafka_fails_unknown_outcomes_on_epoch_bump() {
#if defined(OCPP_RDKAFKA_UNKNOWN_OUTCOME_PATCH)
    return true;
#else
    return false;
#endif
}

}  // namespace kafka_bridge
