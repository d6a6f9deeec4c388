#include "kafka_bridge/consumer.hpp"

#include <librdkafka/rdkafka.h>

#include <map>

#include <fmt/format.h>

namespace kafka_bridge {
namespace {

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};

struct ListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

Error from_code(rd_kafka_resp_err_t code, const std::string& context) {
    return Error(code, context + ": " + rd_kafka_err2str(code));
}

}  // namespace

void Consumer::HandleDeleter::operator()(rd_kafka_s* handle) const {
    // close() has left the group, or given up on it: destroying must not try again (with
    // the brokers gone, librdkafka's own close waits for them without end).
    rd_kafka_destroy_flags(handle, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

Consumer::~Consumer() { close(); }

Result<std::unique_ptr<Consumer>, Error> Consumer::create(const ConsumerConfig& config) {
    std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
    char errstr[512];
    std::vector<std::pair<std::string, std::string>> settings = {
        {"bootstrap.servers", config.brokers},
        {"auto.offset.reset", "earliest"},
        {"allow.auto.create.topics", "false"},
        // A fetch waits at the broker until a record arrives (fetch.min.bytes 1) or this long:
        // a command is handed over the moment it is written, and an idle consumer asks each
        // broker a few times a second rather than a hundred (a broker pays for every request).
        // Not longer: partitions newly assigned join the fetch only when the one in flight
        // returns, so this is also how late a new instance may read them first.
        {"fetch.wait.max.ms", "500"},
        {"reconnect.backoff.max.ms", "1000"},
        // Partitions added to a topic are noticed within half a minute (default 5 minutes):
        // the group rebalances onto them, table mode picks them up (assign_new_partitions).
        {"topic.metadata.refresh.interval.ms", "30000"},
    };
    if (config.group_id) {
        settings.emplace_back("group.id", *config.group_id);
        settings.emplace_back("session.timeout.ms", std::to_string(config.session_timeout.count()));
        settings.emplace_back("heartbeat.interval.ms",
                              std::to_string(std::max<long long>(1000, config.session_timeout.count() / 4)));
        settings.emplace_back("enable.auto.commit", "true");
        settings.emplace_back("auto.commit.interval.ms", "1000");
        // Only what the caller stored is committed: a record is handed on before its offset.
        settings.emplace_back("enable.auto.offset.store", "false");
    } else {
        // librdkafka wants a group id even to assign partitions by hand; nothing is committed
        // and no group is joined.
        settings.emplace_back("group.id", "ocpp-gateway-reader");
        settings.emplace_back("enable.auto.commit", "false");
    }
    for (const auto& [name, value] : config.properties) {
        settings.emplace_back(name, value);
    }
    for (const auto& [name, value] : settings) {
        if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            return Error(RD_KAFKA_RESP_ERR__INVALID_ARG, "Kafka property " + name + ": " + errstr);
        }
    }
    std::unique_ptr<Consumer> consumer(new Consumer());
    if (config.log) {
        consumer->log_ = config.log;
        rd_kafka_conf_set_opaque(conf.get(), consumer.get());
        rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t* rk, int level, const char* fac,
                                                const char* buf) {
            auto* self = static_cast<Consumer*>(rd_kafka_opaque(rk));
            if (self != nullptr && self->log_) {
                self->log_(level, fac, buf);
            }
        });
    }
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
    if (rk == nullptr) {
        return Error(RD_KAFKA_RESP_ERR__INVALID_ARG,
                     std::string("cannot create the Kafka consumer: ") + errstr);
    }
    static_cast<void>(conf.release());  // owned by rk now
    consumer->handle_.reset(rk);
    rd_kafka_poll_set_consumer(rk);
    return consumer;
}

Result<Ok, Error> Consumer::subscribe(const std::vector<std::string>& topics) {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const auto& topic : topics) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (const auto err = rd_kafka_subscribe(handle_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "subscribe");
    }
    return Ok{};
}

Result<Watermarks, Error> Consumer::assign_all(
    const std::vector<std::pair<std::string, Start>>& topics, std::chrono::milliseconds timeout,
    std::int64_t since_ms) {
    Watermarks ends;
    PartitionList list(rd_kafka_topic_partition_list_new(8));
    PartitionList by_time(rd_kafka_topic_partition_list_new(4));
    const int timeout_ms = static_cast<int>(timeout.count());
    for (const auto& [topic, start] : topics) {
        rd_kafka_topic_t* rkt = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
        const rd_kafka_metadata_t* metadata = nullptr;
        const auto err = rd_kafka_metadata(handle_.get(), 0, rkt, &metadata, timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return from_code(err, "metadata of " + topic);
        }
        int partitions = 0;
        rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (metadata->topic_cnt == 1) {
            partitions = metadata->topics[0].partition_cnt;
            topic_err = metadata->topics[0].err;
        }
        rd_kafka_metadata_destroy(metadata);
        if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || partitions == 0) {
            return from_code(topic_err == RD_KAFKA_RESP_ERR_NO_ERROR
                                 ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                                 : topic_err,
                             "topic " + topic);
        }
        assigned_[topic] = partitions;
        for (int p = 0; p < partitions; ++p) {
            std::int64_t low = 0;
            std::int64_t high = 0;
            const auto werr = rd_kafka_query_watermark_offsets(handle_.get(), topic.c_str(), p,
                                                               &low, &high, timeout_ms);
            if (werr != RD_KAFKA_RESP_ERR_NO_ERROR) {
                return from_code(werr, "offsets of " + topic + "/" + std::to_string(p));
            }
            const std::int64_t from = start == Start::beginning ? low
                                      : start == Start::last    ? std::max(low, high - since_ms)
                                                                : high;
            ends[{topic, p}] = {from, high};
            auto* tp = rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
            // From the end: the offset queried, so nothing written since is missed.
            tp->offset = start == Start::beginning ? RD_KAFKA_OFFSET_BEGINNING : from;
            if (start == Start::since) {
                rd_kafka_topic_partition_list_add(by_time.get(), topic.c_str(), p)->offset = since_ms;
            }
        }
    }
    if (by_time->cnt > 0) {
        // Replaces each timestamp with the first offset at or after it (-1: none, the end).
        const auto err = rd_kafka_offsets_for_times(handle_.get(), by_time.get(), timeout_ms);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return from_code(err, "offsets by time");
        }
        for (int i = 0; i < by_time->cnt; ++i) {
            const auto& found = by_time->elems[i];
            if (found.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                return from_code(found.err, std::string("offset by time of ") + found.topic + "/" +
                                                std::to_string(found.partition));
            }
            auto& mark = ends[{found.topic, found.partition}];
            if (found.offset >= 0 && found.offset < mark.second) {
                mark.first = found.offset;
                rd_kafka_topic_partition_list_find(list.get(), found.topic, found.partition)->offset =
                    found.offset;
            }
        }
    }
    if (const auto err = rd_kafka_assign(handle_.get(), list.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "assign");
    }
    return ends;
}

Result<std::map<std::int32_t, std::int64_t>, Error> Consumer::end_offsets(
    const std::string& topic, std::chrono::milliseconds timeout) {
    const auto it = assigned_.find(topic);
    if (it == assigned_.end()) {
        return from_code(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, "topic " + topic + " is not assigned");
    }
    // One request per leader for all partitions, bounded by `timeout` as a whole: the latest
    // offset is the offset "by time" of RD_KAFKA_OFFSET_END.
    PartitionList list(rd_kafka_topic_partition_list_new(it->second));
    for (int p = 0; p < it->second; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    }
    const auto err = rd_kafka_offsets_for_times(handle_.get(), list.get(),
                                                static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "end offsets of " + topic);
    }
    std::map<std::int32_t, std::int64_t> ends;
    for (int i = 0; i < list->cnt; ++i) {
        const auto& found = list->elems[i];
        if (found.err != RD_KAFKA_RESP_ERR_NO_ERROR || found.offset < 0) {
            return from_code(found.err != RD_KAFKA_RESP_ERR_NO_ERROR ? found.err
                                                                     : RD_KAFKA_RESP_ERR__BAD_MSG,
                             "end offset of " + topic + "/" + std::to_string(found.partition));
        }
        ends[found.partition] = found.offset;
    }
    return ends;
}

Result<std::vector<std::pair<std::string, std::int32_t>>, Error> Consumer::assign_new_partitions(
    std::chrono::milliseconds timeout) {
    std::vector<std::pair<std::string, std::int32_t>> added;
    PartitionList list(rd_kafka_topic_partition_list_new(4));
    std::map<std::string, int> grown;
    // One request for every topic this consumer knows (the assigned ones), not one per topic:
    // this runs every few seconds for the life of the process.
    const rd_kafka_metadata_t* metadata = nullptr;
    const auto err = rd_kafka_metadata(handle_.get(), 0, nullptr, &metadata,
                                       static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "metadata");
    }
    std::map<std::string, int> found;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
        if (metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            found[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
        }
    }
    rd_kafka_metadata_destroy(metadata);
    for (const auto& [topic, count] : assigned_) {
        const auto it = found.find(topic);
        const int partitions = it != found.end() ? it->second : 0;
        for (int p = count; p < partitions; ++p) {
            // Everything in a new partition was written after the growth: read it all.
            rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
            added.emplace_back(topic, p);
        }
        if (partitions > count) {
            grown[topic] = partitions;
        }
    }
    if (added.empty()) {
        return added;
    }
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(handle_.get(), list.get())) {
        Error e(rd_kafka_error_code(error), std::string("assign: ") + rd_kafka_error_string(error),
                false, true);
        rd_kafka_error_destroy(error);
        return e;
    }
    for (const auto& [topic, partitions] : grown) {
        assigned_[topic] = partitions;
    }
    return added;
}

std::map<std::pair<std::string, std::int32_t>, std::int64_t> Consumer::positions(
    const std::vector<std::pair<std::string, std::int32_t>>& partitions) const {
    std::map<std::pair<std::string, std::int32_t>, std::int64_t> out;
    if (partitions.empty()) {
        return out;
    }
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
    for (const auto& [topic, partition] : partitions) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
    }
    rd_kafka_position(handle_.get(), list.get());
    for (int i = 0; i < list->cnt; ++i) {
        const auto& tp = list->elems[i];
        out[{tp.topic, tp.partition}] = tp.err == RD_KAFKA_RESP_ERR_NO_ERROR ? tp.offset : RD_KAFKA_OFFSET_INVALID;
    }
    return out;
}

std::optional<Message> Consumer::poll(std::chrono::milliseconds timeout) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(handle_.get(), static_cast<int>(timeout.count()));
    if (m == nullptr) {
        return std::nullopt;
    }
    std::optional<Message> out;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Message msg;
        msg.topic = rd_kafka_topic_name(m->rkt);
        msg.partition = m->partition;
        msg.offset = m->offset;
        if (m->key != nullptr) {
            msg.key.emplace(static_cast<const char*>(m->key), m->key_len);
        }
        if (m->payload != nullptr) {
            msg.value.emplace(static_cast<const char*>(m->payload), m->len);
        }
        rd_kafka_timestamp_type_t type;
        msg.timestamp_ms = rd_kafka_message_timestamp(m, &type);
        out = std::move(msg);
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        last_error_ = Error(m->err, rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
    return out;
}

void Consumer::store(const std::string& topic, std::int32_t partition, std::int64_t next_offset) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = next_offset;
    rd_kafka_offsets_store(handle_.get(), list.get());
}

bool Consumer::close(std::chrono::milliseconds timeout) {
    if (closed_ || !handle_) {
        return true;
    }
    closed_ = true;
    // Asynchronous close, served here for at most `timeout`: leaving the group and committing
    // stored offsets need the brokers, and a drain must end whatever they do.
    rd_kafka_t* rk = handle_.get();
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    if (rd_kafka_error_t* error = rd_kafka_consumer_close_queue(rk, queue)) {
        rd_kafka_error_destroy(error);
        rd_kafka_queue_destroy(queue);
        return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (rd_kafka_consumer_closed(rk) == 0 && std::chrono::steady_clock::now() < deadline) {
        if (rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 100)) {
            rd_kafka_event_destroy(event);
        }
    }
    const bool left = rd_kafka_consumer_closed(rk) != 0;
    rd_kafka_queue_destroy(queue);
    return left;
}

// How far a consumer group is behind: periodic (every few seconds on one instance), never
// per message.
Result<std::vector<PartitionLag>, Error> Consumer::group_lag(const std::string& group,
                                                             const std::vector<std::string>& topics,
                                                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const int timeout_ms = static_cast<int>(timeout.count());
    std::vector<PartitionLag> lags;
    for (const auto& topic : topics) {
        rd_kafka_topic_t* handle = rd_kafka_topic_new(handle_.get(), topic.c_str(), nullptr);
        const rd_kafka_metadata_t* metadata = nullptr;
        const rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, handle, &metadata, timeout_ms);
        rd_kafka_topic_destroy(handle);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return from_code(err, "metadata of " + topic);
        }
        const bool known = metadata->topic_cnt == 1 && metadata->topics[0].err == 0;
        const int partitions = known ? metadata->topics[0].partition_cnt : 0;
        rd_kafka_metadata_destroy(metadata);
        if (!known) {
            return from_code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "topic " + topic);
        }
        for (int p = 0; p < partitions; ++p) {
            PartitionLag lag;
            lag.topic = topic;
            lag.partition = p;
            lags.push_back(std::move(lag));
        }
    }
    if (lags.empty()) {
        return lags;
    }

    // The group's committed offsets.
    {
        PartitionList wanted(rd_kafka_topic_partition_list_new(static_cast<int>(lags.size())));
        for (const auto& l : lags) {
            rd_kafka_topic_partition_list_add(wanted.get(), l.topic.c_str(), l.partition);
        }
        rd_kafka_ListConsumerGroupOffsets_t* request =
            rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), wanted.get());
        char errstr[512];
        rd_kafka_queue_t* queue = rd_kafka_queue_new(handle_.get());
        rd_kafka_AdminOptions_t* options =
            rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr));
        rd_kafka_ListConsumerGroupOffsets(handle_.get(), &request, 1, options, queue);
        rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 1000);
        std::optional<Error> failed;
        if (event == nullptr) {
            failed = Error(RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer to ListConsumerGroupOffsets", false, true);
        } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            failed = from_code(rd_kafka_event_error(event), "offsets of group " + group);
        } else {
            std::size_t count = 0;
            const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
            for (std::size_t g = 0; g < count && !failed; ++g) {
                if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[g])) {
                    failed = from_code(rd_kafka_error_code(error), "offsets of group " + group);
                    break;
                }
                const rd_kafka_topic_partition_list_t* found = rd_kafka_group_result_partitions(groups[g]);
                for (int i = 0; found != nullptr && i < found->cnt; ++i) {
                    const auto& tp = found->elems[i];
                    for (auto& l : lags) {
                        if (l.partition == tp.partition && l.topic == tp.topic && tp.err == 0 &&
                            tp.offset >= 0) {
                            l.committed = tp.offset;
                        }
                    }
                }
            }
        }
        if (event != nullptr) {
            rd_kafka_event_destroy(event);
        }
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_queue_destroy(queue);
        rd_kafka_ListConsumerGroupOffsets_destroy(request);
        if (failed) {
            return *failed;
        }
    }

    // End offsets, and where the group's next record is.
    PartitionList behind(rd_kafka_topic_partition_list_new(static_cast<int>(lags.size())));
    std::map<std::pair<std::string, std::int32_t>, PartitionLag*> by_partition;
    for (auto& l : lags) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                handle_.get(), l.topic.c_str(), l.partition, &low, &high, timeout_ms)) {
            return from_code(err, "end offsets of " + l.topic);
        }
        l.end = high;
        // No committed offset: the group would start from the first record still stored.
        // One older than that has been deleted: the group lags from the first stored.
        const std::int64_t next = l.committed >= 0 ? std::max(l.committed, low) : low;
        l.records = std::max<std::int64_t>(high - next, 0);
        if (l.records > 0) {
            rd_kafka_topic_partition_list_add(behind.get(), l.topic.c_str(), l.partition)->offset = next;
            by_partition[{l.topic, l.partition}] = &l;
        }
    }
    if (by_partition.empty()) {
        return lags;
    }
    // The first unconsumed record of each partition behind, for its timestamp.
    if (const rd_kafka_resp_err_t err = rd_kafka_assign(handle_.get(), behind.get())) {
        return from_code(err, "assigning the partitions behind");
    }
    while (!by_partition.empty() && std::chrono::steady_clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        auto m = poll(std::min(left, std::chrono::milliseconds(200)));
        if (!m) {
            continue;
        }
        if (const auto it = by_partition.find({m->topic, m->partition}); it != by_partition.end()) {
            it->second->oldest_unconsumed_ms = m->timestamp_ms;
            by_partition.erase(it);
        }
    }
    rd_kafka_assign(handle_.get(), nullptr);
    return lags;
}

ReadToEnd::ReadToEnd(const Watermarks& marks, const std::set<std::string>& skip) {
    for (const auto& [partition, mark] : marks) {
        if (mark.second > mark.first && skip.count(partition.first) == 0) {
            remaining_[partition] = mark.second;
        }
    }
}

void ReadToEnd::after_poll(const Consumer& consumer, const Message* message) {
    if (message != nullptr) {
        const auto it = remaining_.find({message->topic, message->partition});
        if (it != remaining_.end() && message->offset + 1 >= it->second) {
            remaining_.erase(it);
        }
    }
    const auto now = std::chrono::steady_clock::now();
    if (!remaining_.empty() && (message == nullptr || now - checked_ >= kCheckEvery)) {
        checked_ = now;
        check(consumer);
    }
}

void ReadToEnd::check(const Consumer& consumer) {
    std::vector<std::pair<std::string, std::int32_t>> behind;
    behind.reserve(remaining_.size());
    for (const auto& entry : remaining_) {
        behind.push_back(entry.first);
    }
    for (const auto& [partition, position] : consumer.positions(behind)) {
        const auto it = remaining_.find(partition);
        if (it != remaining_.end() && position >= it->second) {
            remaining_.erase(it);
        }
    }
}

std::string ReadToEnd::describe() const {
    std::string out;
    std::size_t shown = 0;
    for (const auto& [partition, end] : remaining_) {
        if (shown++ == 5) {
            out += fmt::format(" and {} more", remaining_.size() - 5);
            break;
        }
        out += fmt::format("{}{}/{} (end {})", out.empty() ? "" : ", ", partition.first, partition.second, end);
    }
    return out;
}

}  // namespace kafka_bridge
