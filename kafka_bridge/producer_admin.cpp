// The producer's topic administration: creating topics, reading partitions, durability and
// topic ids, asking whether the cluster answers. Start-up and periodic checks, never per message.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <optional>
#include <thread>

#include "kafka_bridge/producer.hpp"
#include "kafka_bridge/rdkafka_error.hpp"

namespace kafka_bridge {

using detail::config_error;
using detail::from_code;

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

namespace {

/// Runs one admin request on its own queue and waits for its result event (nullptr: no
/// answer in time). The caller destroys the event.
template <class Start>
rd_kafka_event_t* admin_call(rd_kafka_t* handle, rd_kafka_admin_op_t op,
                             std::chrono::milliseconds timeout, Start start) {
    char errstr[512];
    rd_kafka_queue_t* queue = rd_kafka_queue_new(handle);
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(handle, op);
    rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), errstr,
                                              sizeof(errstr));
    if (op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS) {
        rd_kafka_AdminOptions_set_operation_timeout(options, static_cast<int>(timeout.count()),
                                                    errstr, sizeof(errstr));
    }
    start(options, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    return event;
}

Error no_answer(const char* request) {
    return Error(RD_KAFKA_RESP_ERR__TIMED_OUT, std::string("no answer to ") + request, false, true);
}

/// The first error of a per-resource config result, if any.
std::optional<Error> resource_error(const rd_kafka_ConfigResource_t* const* resources,
                                    std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        if (const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[i]);
            err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* msg = rd_kafka_ConfigResource_error_string(resources[i]);
            return from_code(err, std::string("topic ") + rd_kafka_ConfigResource_name(resources[i]) +
                                      ": " + (msg != nullptr ? msg : rd_kafka_err2str(err)));
        }
    }
    return std::nullopt;
}

}  // namespace

Result<std::map<std::string, ObservedTopic>, Error> Producer::observe_topics(
    const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
    std::map<std::string, ObservedTopic> observed;
    {
        // Every topic at once: one request, whatever the number of topics asked about.
        const rd_kafka_metadata_t* metadata = nullptr;
        const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 1, nullptr, &metadata,
                                                          static_cast<int>(timeout.count()));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return from_code(err);
        }
        for (int i = 0; i < metadata->topic_cnt; ++i) {
            const auto& t = metadata->topics[i];
            if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR ||
                std::find(topics.begin(), topics.end(), t.topic) == topics.end()) {
                continue;
            }
            ObservedTopic o;
            o.exists = true;
            o.partitions = t.partition_cnt;
            o.replication = t.partition_cnt > 0 ? t.partitions[0].replica_cnt : 0;
            for (int p = 1; p < t.partition_cnt; ++p) {
                o.replication = std::min(o.replication, t.partitions[p].replica_cnt);
            }
            observed[t.topic] = std::move(o);
        }
        rd_kafka_metadata_destroy(metadata);
    }
    if (observed.empty()) {
        return observed;
    }
    std::vector<rd_kafka_ConfigResource_t*> resources;
    for (const auto& [name, topic] : observed) {
        resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
    }
    rd_kafka_event_t* event = admin_call(
        handle_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout,
        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_DescribeConfigs(handle_.get(), resources.data(), resources.size(), options,
                                     queue);
        });
    std::optional<Error> failed;
    if (event == nullptr) {
        failed = no_answer("DescribeConfigs");
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failed = from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    } else {
        std::size_t count = 0;
        const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(event), &count);
        failed = resource_error(described, count);
        for (std::size_t i = 0; i < count && !failed; ++i) {
            auto& o = observed[rd_kafka_ConfigResource_name(described[i])];
            std::size_t entries = 0;
            const rd_kafka_ConfigEntry_t** configs =
                rd_kafka_ConfigResource_configs(described[i], &entries);
            for (std::size_t e = 0; e < entries; ++e) {
                if (const char* value = rd_kafka_ConfigEntry_value(configs[e])) {
                    o.config[rd_kafka_ConfigEntry_name(configs[e])] = value;
                }
            }
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    for (auto* r : resources) {
        rd_kafka_ConfigResource_destroy(r);
    }
    if (failed) {
        return *failed;
    }
    return observed;
}

Result<Ok, Error> Producer::add_partitions(const std::string& topic, int total,
                                           std::chrono::milliseconds timeout) {
    char errstr[512];
    rd_kafka_NewPartitions_t* request =
        rd_kafka_NewPartitions_new(topic.c_str(), static_cast<std::size_t>(total), errstr,
                                   sizeof(errstr));
    if (request == nullptr) {
        return config_error("topic " + topic + ": " + errstr);
    }
    rd_kafka_event_t* event = admin_call(
        handle_.get(), RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout,
        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_CreatePartitions(handle_.get(), &request, 1, options, queue);
        });
    Result<Ok, Error> outcome = Ok{};
    if (event == nullptr) {
        outcome = no_answer("CreatePartitions");
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        outcome = from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    } else {
        std::size_t count = 0;
        const rd_kafka_topic_result_t** results = rd_kafka_CreatePartitions_result_topics(
            rd_kafka_event_CreatePartitions_result(event), &count);
        for (std::size_t i = 0; i < count; ++i) {
            if (const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i])) {
                const char* msg = rd_kafka_topic_result_error_string(results[i]);
                outcome = from_code(err, "topic " + topic + ": " +
                                             (msg != nullptr ? msg : rd_kafka_err2str(err)));
            }
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_NewPartitions_destroy(request);
    return outcome;
}

Result<Ok, Error> Producer::set_topic_configs(const std::string& topic,
                                              const std::map<std::string, std::string>& settings,
                                              std::chrono::milliseconds timeout) {
#if RD_KAFKA_VERSION >= 0x020200ff
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    for (const auto& [name, value] : settings) {
        if (rd_kafka_error_t* error = rd_kafka_ConfigResource_add_incremental_config(
                resource, name.c_str(), RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET, value.c_str())) {
            Error e = from_code(rd_kafka_error_code(error),
                                "topic " + topic + ": " + name + ": " + rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            rd_kafka_ConfigResource_destroy(resource);
            return e;
        }
    }
    rd_kafka_event_t* event = admin_call(
        handle_.get(), RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS, timeout,
        [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_IncrementalAlterConfigs(handle_.get(), &resource, 1, options, queue);
        });
    Result<Ok, Error> outcome = Ok{};
    if (event == nullptr) {
        outcome = no_answer("IncrementalAlterConfigs");
    } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        outcome = from_code(rd_kafka_event_error(event), rd_kafka_event_error_string(event));
    } else {
        std::size_t count = 0;
        const rd_kafka_ConfigResource_t** results = rd_kafka_IncrementalAlterConfigs_result_resources(
            rd_kafka_event_IncrementalAlterConfigs_result(event), &count);
        if (auto failed = resource_error(results, count)) {
            outcome = *failed;
        }
    }
    if (event != nullptr) {
        rd_kafka_event_destroy(event);
    }
    rd_kafka_ConfigResource_destroy(resource);
    return outcome;
#else
    (void)settings;
    (void)timeout;
    return config_error("topic " + topic + ": changing topic configs needs librdkafka 2.2 or "
                        "later (IncrementalAlterConfigs); this build has " + librdkafka_version());
#endif
}

}  // namespace kafka_bridge
