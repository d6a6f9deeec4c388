// Consumer::group_lag: how far a consumer group is behind, in records and in time. Periodic
// (every few seconds on one instance), never per message.
#include <librdkafka/rdkafka.h>

#include <map>

#include "kafka_bridge/consumer.hpp"

namespace kafka_bridge {
namespace {

struct ListDeleter {
    void operator()(rd_kafka_topic_partition_list_t* list) const {
        rd_kafka_topic_partition_list_destroy(list);
    }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

Error failure(rd_kafka_resp_err_t code, const std::string& context) {
    return Error(code, context + ": " + rd_kafka_err2str(code));
}

}  // namespace

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
            return failure(err, "metadata of " + topic);
        }
        const bool known = metadata->topic_cnt == 1 && metadata->topics[0].err == 0;
        const int partitions = known ? metadata->topics[0].partition_cnt : 0;
        rd_kafka_metadata_destroy(metadata);
        if (!known) {
            return failure(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "topic " + topic);
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
            failed = failure(rd_kafka_event_error(event), "offsets of group " + group);
        } else {
            std::size_t count = 0;
            const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
            for (std::size_t g = 0; g < count && !failed; ++g) {
                if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[g])) {
                    failed = failure(rd_kafka_error_code(error), "offsets of group " + group);
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
            return failure(err, "end offsets of " + l.topic);
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
        return failure(err, "assigning the partitions behind");
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

}  // namespace kafka_bridge
