// ocpp-billing: the reference billing consumer. Reads the gateway's transaction and
// meter-value topics (read_committed), builds one record per charging session (book.hpp) and
// writes it to a compacted sessions topic exactly once: the records of a batch and the
// consumer offsets that produced them are committed in one Kafka transaction. State after a
// restart is the sessions topic itself.
#include <librdkafka/rdkafka.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tools/billing/book.hpp"

namespace {

using json = nlohmann::json;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

struct Options {
    std::string brokers = "127.0.0.1:9092";
    std::string group = "ocpp-billing";
    std::string transactions_topic = "ocpp.transactions";
    std::string meter_values_topic = "ocpp.meter-values";
    std::string sessions_topic = "billing.sessions";
    std::string transactional_id;  // default: ocpp-billing-<group>
    std::map<std::string, std::string> properties;
    bool print_closed = false;
    int batch = 500;
};

constexpr const char* kUsage = R"(ocpp-billing: the reference billing consumer of the OCPP gateway's topics

Usage: ocpp-billing [options]

Reads the transaction and meter-value topics (read_committed), joins each charging session
(1.6 Start/MeterValues/Stop by transactionId, 2.0.1 TransactionEvents by transactionId),
merges resends idempotently, and writes one record per session (schemas/events/billing-session.
schema.json) to a compacted topic, exactly once (Kafka transactions, offsets in the
transaction). One instance per group: a second one with the same transactional id fences the
first.

  --brokers LIST             bootstrap servers [127.0.0.1:9092]
  --group NAME               consumer group [ocpp-billing]
  --transactions-topic T     [ocpp.transactions]
  --meter-values-topic T     [ocpp.meter-values]
  --sessions-topic T         compacted output, created when missing [billing.sessions]
  --transactional-id ID      [ocpp-billing-<group>]
  --property K=V             any librdkafka property (SASL, TLS, ...), repeatable
  --print                    print each session record written for a closed session
  --help
Exit codes: 0 stopped (SIGTERM/SIGINT), 2 bad options, 3 Kafka failed (restart: state and
offsets are where the last committed transaction left them).
)";

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](std::string& out) {
            if (i + 1 >= argc) {
                throw std::runtime_error(a + " needs a value");
            }
            out = argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return false;
        } else if (a == "--brokers") {
            value(o.brokers);
        } else if (a == "--group") {
            value(o.group);
        } else if (a == "--transactions-topic") {
            value(o.transactions_topic);
        } else if (a == "--meter-values-topic") {
            value(o.meter_values_topic);
        } else if (a == "--sessions-topic") {
            value(o.sessions_topic);
        } else if (a == "--transactional-id") {
            value(o.transactional_id);
        } else if (a == "--property") {
            std::string kv;
            value(kv);
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
                throw std::runtime_error("--property: expected K=V, got \"" + kv + "\"");
            }
            o.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else if (a == "--print") {
            o.print_closed = true;
        } else {
            throw std::runtime_error("unknown option \"" + a + "\" (see --help)");
        }
    }
    if (o.transactional_id.empty()) {
        o.transactional_id = "ocpp-billing-" + o.group;
    }
    return true;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ocpp-billing: %s\n", what.c_str());
    std::exit(3);
}

void check(rd_kafka_error_t* error, const char* what) {
    if (error != nullptr) {
        const std::string text = rd_kafka_error_string(error);
        rd_kafka_error_destroy(error);
        die(std::string(what) + ": " + text);
    }
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

/// Creates the compacted sessions topic when it does not exist.
void ensure_sessions_topic(rd_kafka_t* producer, const std::string& topic,
                           const std::string& brokers) {
    char errstr[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), -1, -1, errstr, sizeof(errstr));
    if (nt == nullptr) {
        die(errstr);
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t* queue = rd_kafka_queue_new(producer);
    rd_kafka_CreateTopics(producer, &nt, 1, nullptr, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
    if (event == nullptr) {
        die("no answer from Kafka at " + brokers + " within 30 s while creating " + topic +
            " (is the broker reachable? --brokers)");
    }
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
}

/// The state: every session record on the sessions topic, up to its last committed
/// transaction (read_committed stops at the last stable offset).
void restore(const Options& o, billing::Book& book) {
    rd_kafka_conf_t* conf = base_conf(o);
    set(conf, "group.id", (o.group + "-restore").c_str());
    set(conf, "enable.auto.commit", "false");
    set(conf, "isolation.level", "read_committed");
    set(conf, "enable.partition.eof", "true");
    rd_kafka_t* consumer = make(RD_KAFKA_CONSUMER, conf);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(consumer, o.sessions_topic.c_str(), nullptr);
    if (const auto err = rd_kafka_metadata(consumer, 0, t, &metadata, 30000)) {
        die(std::string("metadata of ") + o.sessions_topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_topic_destroy(t);
    const int partitions = metadata->topic_cnt == 1 ? metadata->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(list, o.sessions_topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    int at_end = 0;
    std::size_t records = 0;
    while (at_end < partitions) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 1000);
        if (g_stop != 0) {
            std::exit(0);
        }
        if (m == nullptr) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            ++at_end;
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::fprintf(stderr, "ocpp-billing: restoring: %s\n", rd_kafka_message_errstr(m));
        } else if (m->payload == nullptr) {
            std::string key(static_cast<const char*>(m->key), m->key_len);
            book.forget(key);  // a session merged into another
        } else {
            const auto j = json::parse(static_cast<const char*>(m->payload),
                                       static_cast<const char*>(m->payload) + m->len, nullptr, false);
            if (auto s = billing::Session::from_json(j)) {
                book.restore(std::move(*s));
                ++records;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    book.restored();
    std::fprintf(stderr, "ocpp-billing: restored %zu session record(s), %zu session(s)\n", records,
                 book.sessions().size());
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        if (!parse(argc, argv, o)) {
            return 0;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ocpp-billing: %s\n", e.what());
        return 2;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    rd_kafka_conf_t* pconf = base_conf(o);
    set(pconf, "transactional.id", o.transactional_id.c_str());
    set(pconf, "enable.idempotence", "true");
    set(pconf, "linger.ms", "5");
    rd_kafka_t* producer = make(RD_KAFKA_PRODUCER, pconf);
    ensure_sessions_topic(producer, o.sessions_topic, o.brokers);
    // Fences an earlier instance with the same transactional id and aborts what it left
    // open, so the sessions topic holds only committed batches when it is read back.
    check(rd_kafka_init_transactions(producer, 60000), "init_transactions");

    billing::Book book;
    restore(o, book);

    rd_kafka_conf_t* cconf = base_conf(o);
    set(cconf, "group.id", o.group.c_str());
    set(cconf, "enable.auto.commit", "false");
    set(cconf, "isolation.level", "read_committed");
    set(cconf, "auto.offset.reset", "earliest");
    rd_kafka_t* consumer = make(RD_KAFKA_CONSUMER, cconf);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, o.transactions_topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, o.meter_values_topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (const auto err = rd_kafka_subscribe(consumer, topics)) {
        die(std::string("subscribe: ") + rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(topics);

    std::map<std::string, std::uint64_t> counts;
    while (g_stop == 0) {
        // A batch: what arrives within 100 ms, at most o.batch records.
        std::vector<rd_kafka_message_t*> batch;
        while (static_cast<int>(batch.size()) < o.batch) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, batch.empty() ? 500 : 100);
            if (m == nullptr) {
                break;
            }
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    std::fprintf(stderr, "ocpp-billing: consumer: %s\n", rd_kafka_message_errstr(m));
                }
                rd_kafka_message_destroy(m);
                continue;
            }
            batch.push_back(m);
        }
        if (batch.empty()) {
            continue;
        }
        for (auto* m : batch) {
            const auto j = m->payload != nullptr
                               ? json::parse(static_cast<const char*>(m->payload),
                                             static_cast<const char*>(m->payload) + m->len, nullptr, false)
                               : json();
            switch (book.apply(j)) {
                case billing::Applied::changed: ++counts["applied"]; break;
                case billing::Applied::duplicate: ++counts["duplicates"]; break;
                case billing::Applied::ignored: ++counts["ignored"]; break;
                case billing::Applied::unusable: ++counts["unusable"]; break;
            }
        }
        check(rd_kafka_begin_transaction(producer), "begin_transaction");
        for (const auto* s : book.take_changed()) {
            const std::string value = s->to_json().dump();
            if (const auto err = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(o.sessions_topic.c_str()),
                    RD_KAFKA_V_KEY(s->key.data(), s->key.size()),
                    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
                die(std::string("produce: ") + rd_kafka_err2str(err));
            }
            if (o.print_closed && s->status() == "closed") {
                std::printf("%s\n", value.c_str());
                std::fflush(stdout);
            }
        }
        for (const auto& key : book.take_removed()) {
            if (const auto err = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(o.sessions_topic.c_str()),
                    RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(nullptr, 0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
                die(std::string("produce: ") + rd_kafka_err2str(err));
            }
        }
        // The offsets after the batch go into the same transaction as its records.
        std::map<std::pair<std::string, int>, std::int64_t> next;
        for (auto* m : batch) {
            next[{rd_kafka_topic_name(m->rkt), m->partition}] = m->offset + 1;
            rd_kafka_message_destroy(m);
        }
        rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
        for (const auto& [tp, offset] : next) {
            rd_kafka_topic_partition_list_add(offsets, tp.first.c_str(), tp.second)->offset = offset;
        }
        rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata(consumer);
        check(rd_kafka_send_offsets_to_transaction(producer, offsets, cgmd, 60000), "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        rd_kafka_topic_partition_list_destroy(offsets);
        check(rd_kafka_commit_transaction(producer, 60000), "commit_transaction");
    }
    std::fprintf(stderr, "ocpp-billing: stopping (%llu applied, %llu duplicates, %llu ignored, %llu unusable)\n",
                 static_cast<unsigned long long>(counts["applied"]),
                 static_cast<unsigned long long>(counts["duplicates"]),
                 static_cast<unsigned long long>(counts["ignored"]),
                 static_cast<unsigned long long>(counts["unusable"]));
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return 0;
}
