#include "tools/billing/kafka_io.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "kafka_bridge/record_json.hpp"

namespace billing {

using json = nlohmann::json;

void die(const std::string& what, int code) {
    std::fprintf(stderr, "ocpp-billing: %s\n", what.c_str());
    std::exit(code);
}

void check(rd_kafka_error_t* error, const char* what) {
    if (error != nullptr) {
        const std::string text = rd_kafka_error_string(error);
        rd_kafka_error_destroy(error);
        die(std::string(what) + ": " + text);
    }
}

void die_fatal(rd_kafka_t* rk, const std::string& what) {
    char reason[512];
    rd_kafka_fatal_error(rk, reason, sizeof(reason));
    die(what + ": " + reason);
}

rd_kafka_conf_t* base_conf(const Options& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    auto set = [&](const std::string& k, const std::string& v) {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "ocpp-billing: %s\n", errstr);
            std::exit(2);
        }
    };
    set("bootstrap.servers", o.brokers);
    for (const auto& [k, v] : o.properties) {
        set(k, v);
    }
    return conf;
}

rd_kafka_t* make(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
    char errstr[512];
    rd_kafka_t* handle = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (handle == nullptr) {
        die(errstr);
    }
    return handle;
}

void set(rd_kafka_conf_t* conf, const char* k, const char* v) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        die(errstr);
    }
}

std::string where(const rd_kafka_message_t* m) {
    return fmt::format("{} partition {} offset {}", m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?",
                       m->partition, m->offset);
}

namespace {

/// The answer to an admin request on `queue`, or the end: no answer within 30 s.
rd_kafka_event_t* admin_answer(rd_kafka_queue_t* queue, const Options& o, const std::string& doing) {
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
    if (event == nullptr) {
        die("no answer from Kafka at " + o.brokers + " within 30 s while " + doing + " (is the broker reachable? --brokers)");
    }
    return event;
}

/// The topic's configuration entries, or an error text. Retries for a while when the broker
/// asked does not know the topic yet (it was created a moment ago).
std::map<std::string, std::string> topic_configs(rd_kafka_t* rk, const Options& o, std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
        std::map<std::string, std::string> configs;
        rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
        rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, o.sessions_topic.c_str());
        rd_kafka_DescribeConfigs(rk, &resource, 1, nullptr, queue);
        rd_kafka_event_t* event = admin_answer(queue, o, "reading the configuration of " + o.sessions_topic);
        rd_kafka_resp_err_t err = rd_kafka_event_error(event);
        error = err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_event_error_string(event) : "";
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::size_t count = 0;
            const rd_kafka_ConfigResource_t** resources =
                rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
            for (std::size_t i = 0; i < count; ++i) {
                if ((err = rd_kafka_ConfigResource_error(resources[i])) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    const char* text = rd_kafka_ConfigResource_error_string(resources[i]);
                    error = text != nullptr && *text != '\0' ? text : rd_kafka_err2str(err);
                    break;
                }
                std::size_t entries = 0;
                const rd_kafka_ConfigEntry_t** config = rd_kafka_ConfigResource_configs(resources[i], &entries);
                for (std::size_t e = 0; e < entries; ++e) {
                    const char* value = rd_kafka_ConfigEntry_value(config[e]);
                    configs[rd_kafka_ConfigEntry_name(config[e])] = value != nullptr ? value : "";
                }
            }
        }
        rd_kafka_event_destroy(event);
        rd_kafka_ConfigResource_destroy(resource);
        rd_kafka_queue_destroy(queue);
        if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || std::chrono::steady_clock::now() > deadline) {
            if (error.empty() && configs.count("cleanup.policy") == 0) {
                error = "the answer has no cleanup.policy";
            }
            return configs;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace

/// Creates the sessions topic (compacted) when it does not exist, refuses one that is not
/// compacted, and waits until the cluster lists its partitions. Returns their count.
int prepare_sessions_topic(rd_kafka_t* rk, const Options& o) {
    const std::string& topic = o.sessions_topic;
    char errstr[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), -1, -1, errstr, sizeof(errstr));
    if (nt == nullptr) {
        die(errstr, 2);
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, queue);
    rd_kafka_event_t* event = admin_answer(queue, o, "creating " + topic);
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto err = rd_kafka_topic_result_error(results[i]);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            die("creating " + topic + ": " + rd_kafka_err2str(err));
        }
    }
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die(std::string("creating ") + topic + ": " + rd_kafka_event_error_string(event));
    }
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(nt);

    // A topic made by hand or by the broker's auto-creation may delete records: the billing
    // records, and the state a restart reads back, would go after its retention.
    std::string error;
    const auto configs = topic_configs(rk, o, error);
    if (!error.empty()) {
        std::fprintf(stderr, "ocpp-billing: could not read the configuration of %s (%s); its cleanup.policy is not checked\n",
                     topic.c_str(), error.c_str());
    } else {
        const std::string& policy = configs.at("cleanup.policy");
        if (policy.find("compact") == std::string::npos) {
            die(topic + " has cleanup.policy=" + policy +
                    ": the sessions topic must be compacted, or the broker deletes the billing records and the "
                    "state read back at a restart after its retention. Set it with kafka-configs.sh --alter "
                    "--entity-type topics --entity-name " + topic +
                    " --add-config cleanup.policy=compact, or name another topic with --sessions-topic",
                kRefused);
        }
        if (policy.find("delete") != std::string::npos) {
            const auto retention = configs.find("retention.ms");
            std::fprintf(stderr, "ocpp-billing: %s has cleanup.policy=%s: sessions unchanged for retention.ms (%s) are deleted\n",
                         topic.c_str(), policy.c_str(),
                         retention != configs.end() ? retention->second.c_str() : "the broker's default");
        }
    }

    // Its partitions, once the cluster lists them all with a leader (a topic created a moment
    // ago may not be listed yet).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    std::string last;
    for (;;) {
        const rd_kafka_metadata_t* metadata = nullptr;
        int partitions = 0;
        if (const auto err = rd_kafka_metadata(rk, 0, t, &metadata, 5000); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            last = rd_kafka_err2str(err);
        } else {
            if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const auto& listed = metadata->topics[0];
                partitions = listed.partition_cnt;
                for (int p = 0; p < listed.partition_cnt; ++p) {
                    if (listed.partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR || listed.partitions[p].leader < 0) {
                        partitions = 0;
                    }
                }
            } else {
                last = metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : "not listed";
            }
            rd_kafka_metadata_destroy(metadata);
        }
        if (partitions > 0) {
            rd_kafka_topic_destroy(t);
            return partitions;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            die("the partitions of " + topic + " are not ready after 30 s" + (last.empty() ? "" : ": " + last));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// The state: every session record on the sessions topic, up to its last committed
/// transaction (read_committed stops at the last stable offset). A record this version cannot
/// read stops the start: going on would write that session again from the events alone.
void restore(const Options& o, int partitions, std::int64_t retire_before, std::int64_t unstamped_ms,
             const volatile std::sig_atomic_t& stop, Book& book) {
    rd_kafka_conf_t* conf = base_conf(o);
    set(conf, "group.id", (o.group + "-restore").c_str());
    set(conf, "enable.auto.commit", "false");
    set(conf, "isolation.level", "read_committed");
    set(conf, "enable.partition.eof", "true");
    rd_kafka_t* consumer = make(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(list, o.sessions_topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (const auto err = rd_kafka_assign(consumer, list)) {
        die("restoring: assigning " + o.sessions_topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
    // Errors librdkafka retries (a broker away, a leader moving) are waited out, but not for
    // ever: a minute without a record or the end of a partition stops the start.
    constexpr auto kStalled = std::chrono::seconds(60);
    auto progress = std::chrono::steady_clock::now();
    std::string last_error;
    std::set<std::int32_t> at_end;
    std::size_t records = 0;
    // Records it cannot read, by key: a later record or tombstone of the key replaces one
    // (how an operator removes it), so only those left at the end stop the start.
    std::map<std::string, std::string> unreadable;
    while (static_cast<int>(at_end.size()) < partitions) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 1000);
        if (stop != 0) {
            std::exit(0);
        }
        if (std::chrono::steady_clock::now() - progress > kStalled) {
            die(fmt::format("restoring {}: no progress for {} s ({} of {} partitions read){}", o.sessions_topic,
                            kStalled.count(), at_end.size(), partitions,
                            last_error.empty() ? "" : "; last error: " + last_error));
        }
        if (m == nullptr) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end.insert(m->partition);
            progress = std::chrono::steady_clock::now();
        } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            die_fatal(consumer, "restoring");
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            last_error = rd_kafka_message_errstr(m);
            std::fprintf(stderr, "ocpp-billing: restoring: %s\n", last_error.c_str());
        } else {
            progress = std::chrono::steady_clock::now();
            const std::string key = m->key != nullptr ? std::string(static_cast<const char*>(m->key), m->key_len) : "";
            unreadable.erase(key);
            if (m->payload == nullptr) {
                book.forget(key);  // a session merged into another, or a record removed
            } else {
                const auto j = kafka_bridge::parse_record_json(
                    std::string_view(static_cast<const char*>(m->payload), m->len));
                auto s = Session::from_json(j);
                if (!s || s->key != key) {
                    unreadable[key] = where(m);
                    book.forget(key);
                } else {
                    if (s->updated_ms == 0) {
                        s->updated_ms = unstamped_ms;  // a record of an earlier version
                    }
                    book.restore(std::move(*s), retire_before);
                    ++records;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    if (!unreadable.empty()) {
        std::string list;
        for (const auto& [key, at] : unreadable) {
            list += fmt::format("{}\n  key \"{}\" at {}", list.empty() ? "" : ",", key, at);
        }
        die(fmt::format("restoring: {} record(s) on {} are not session records this version reads; not starting, "
                        "since going on would write their sessions again from the events alone:{}\nRemove each "
                        "with a tombstone for its key (a record with that key and no value) if it does not "
                        "belong there, or check --sessions-topic",
                        unreadable.size(), o.sessions_topic, list),
            kRefused);
    }
    book.restored();
    std::fprintf(stderr, "ocpp-billing: restored %zu session record(s): %zu session(s) in memory, %zu retired\n",
                 records, book.sessions().size(), book.retired());
}

namespace {

constexpr std::string_view kReadUpTo = "read-up-to:";

}  // namespace

void ReadProgress::record(const rd_kafka_message_t* m, std::int64_t at_ms) {
    Partition& p = partitions_[{rd_kafka_topic_name(m->rkt), m->partition}];
    // A producer's clock ahead of this one must not carry the point past records unread.
    p.last_ms = std::max(p.last_ms, std::min(at_ms, unix_now_ms()));
}

void ReadProgress::end_of(const rd_kafka_message_t* m) {
    Partition& p = partitions_[{rd_kafka_topic_name(m->rkt), m->partition}];
    p.end_offset = std::max(p.end_offset, m->offset);
}

std::int64_t ReadProgress::refresh(rd_kafka_t* consumer) {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(consumer, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return floor_;
    }
    const std::int64_t asked_at = unix_now_ms();  // before the ends are asked for
    std::int64_t point = assigned->cnt > 0 && rd_kafka_position(consumer, assigned) == RD_KAFKA_RESP_ERR_NO_ERROR
                             ? asked_at
                             : 0;
    for (int i = 0; i < assigned->cnt && point > 0; ++i) {
        const rd_kafka_topic_partition_t& tp = assigned->elems[i];
        const auto it = partitions_.find({tp.topic, tp.partition});
        std::int64_t low = 0;
        std::int64_t high = 0;
        if (rd_kafka_query_watermark_offsets(consumer, tp.topic, tp.partition, &low, &high, 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            point = 0;  // not known now
            break;
        }
        // Read to the end: the application's position (after the last record it was given),
        // or the end it was last told of, is the end offset now; or there is nothing to read.
        // (read_committed: the end is the last stable offset, so an input transaction left
        // open holds it back: docs/contract.md "Late events and memory".)
        const bool at_end = high == low || tp.offset >= high ||
                            (it != partitions_.end() && it->second.end_offset == high);
        const std::int64_t last = it != partitions_.end() ? it->second.last_ms : 0;
        point = std::min(point, at_end ? asked_at : last);
    }
    rd_kafka_topic_partition_list_destroy(assigned);
    if (point > slack_ms_) {
        floor_ = std::max(floor_, point - slack_ms_);
    }
    return floor_;
}

void set_read_up_to(rd_kafka_topic_partition_list_t* offsets, std::int64_t up_to_ms) {
    const std::string text = std::string(kReadUpTo) + std::to_string(up_to_ms);
    for (int i = 0; i < offsets->cnt; ++i) {
        rd_kafka_topic_partition_t& p = offsets->elems[i];
        std::free(p.metadata);
        // librdkafka frees it with the list (free()).
        p.metadata = std::malloc(text.size());
        if (p.metadata == nullptr) {
            die("out of memory");
        }
        std::memcpy(p.metadata, text.data(), text.size());
        p.metadata_size = text.size();
    }
}

std::int64_t committed_read_up_to(rd_kafka_t* consumer, const Options& o, Offsets& committed) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
    for (const std::string& topic : {o.transactions_topic, o.meter_values_topic}) {
        rd_kafka_topic_t* t = rd_kafka_topic_new(consumer, topic.c_str(), nullptr);
        const rd_kafka_metadata_t* metadata = nullptr;
        if (const auto err = rd_kafka_metadata(consumer, 0, t, &metadata, 30000); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            die("the partitions of " + topic + ": " + rd_kafka_err2str(err));
        }
        // A topic that does not exist yet has nothing committed.
        if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
                rd_kafka_topic_partition_list_add(list, topic.c_str(), metadata->topics[0].partitions[p].id);
            }
        }
        rd_kafka_metadata_destroy(metadata);
        rd_kafka_topic_destroy(t);
    }
    std::int64_t result = 0;
    bool every = true;  // every committed partition says
    if (list->cnt > 0) {
        if (const auto err = rd_kafka_committed(consumer, list, 30000)) {
            die(std::string("reading the group's committed offsets: ") + rd_kafka_err2str(err));
        }
        // Each partition's says how far the consumer had read when it was last committed
        // (every commit writes it on every partition it can); the earliest is a bound for all.
        for (int i = 0; i < list->cnt; ++i) {
            const rd_kafka_topic_partition_t& p = list->elems[i];
            if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) {
                continue;  // nothing committed
            }
            committed[{p.topic, p.partition}] = p.offset;
            const std::string text(static_cast<const char*>(p.metadata), p.metadata != nullptr ? p.metadata_size : 0);
            const std::string digits = text.rfind(kReadUpTo, 0) == 0 ? text.substr(kReadUpTo.size()) : "";
            if (digits.empty() || digits.size() >= 19 || digits.find_first_not_of("0123456789") != std::string::npos) {
                every = false;  // reset by an operator, or committed by an earlier version
                continue;
            }
            const std::int64_t point = std::stoll(digits);
            result = result == 0 ? point : std::min(result, point);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return every ? result : 0;
}

void add_assigned(rd_kafka_t* consumer, const Offsets& committed, Offsets& offsets) {
    rd_kafka_topic_partition_list_t* assigned = nullptr;
    if (rd_kafka_assignment(consumer, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return;
    }
    rd_kafka_position(consumer, assigned);
    for (int i = 0; i < assigned->cnt; ++i) {
        const rd_kafka_topic_partition_t& tp = assigned->elems[i];
        const std::pair<std::string, std::int32_t> key{tp.topic, tp.partition};
        if (offsets.count(key) > 0) {
            continue;
        }
        if (tp.offset >= 0) {
            offsets[key] = tp.offset;  // everything before it was applied and committed
        } else if (const auto c = committed.find(key); c != committed.end()) {
            offsets[key] = c->second;  // nothing read from it since its assignment
        }
    }
    rd_kafka_topic_partition_list_destroy(assigned);
}

}  // namespace billing
