// ocpp-billing: the reference billing consumer. Reads the gateway's transaction and
// meter-value topics (read_committed), builds one record per charging session (book.hpp) and
// writes it to a compacted sessions topic exactly once: the records of a batch and the
// consumer offsets that produced them are committed in one Kafka transaction. State after a
// restart is the sessions topic itself.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
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
    double retire_after_hours = 72;  // 0: never
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
  --batch N                  records read into one transaction at most [500]
  --retire-after-hours H     a closed session unchanged for H hours leaves memory; later
                             events for it are logged as late, not applied; 0: never [72]
  --print                    print each session record of a closed session once its
                             transaction is committed
  --help
Options take their value as the next argument or after '=' (--group=billing); a value that
starts with "--" must be given after '='.
Exit codes: 0 stopped (SIGTERM/SIGINT), 2 bad options, 3 Kafka failed (restart: state and
offsets are where the last committed transaction left them), 4 refused to start: the sessions
topic is not compacted or holds a record this version cannot read (restarting does not help).
)";

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::optional<std::string> inline_value;  // --name=value
        if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            a.resize(eq);
        }
        auto value = [&](std::string& out) {
            if (inline_value) {
                out = *inline_value;
                inline_value.reset();
            } else if (i + 1 >= argc) {
                throw std::runtime_error(a + " needs a value");
            } else if (const std::string next = argv[i + 1]; next.rfind("--", 0) == 0) {
                throw std::runtime_error(a + " needs a value, got the option \"" + next +
                                         "\" (a value that starts with \"--\" goes after '=': " + a + "=" + next + ")");
            } else {
                out = next;
                ++i;
            }
            if (out.empty()) {
                throw std::runtime_error(a + " needs a value, got an empty one");
            }
        };
        if (a == "--help" || a == "-h") {
            if (inline_value) {
                throw std::runtime_error(a + " takes no value");
            }
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
        } else if (a == "--batch") {
            std::string n;
            value(n);
            int batch = 0;
            const bool digits = n.size() <= 6 && n.find_first_not_of("0123456789") == std::string::npos;
            if (digits) {
                batch = std::stoi(n);
            }
            if (!digits || batch < 1 || batch > 100000) {
                throw std::runtime_error("--batch: expected a number of records from 1 to 100000, got \"" + n + "\"");
            }
            o.batch = batch;
        } else if (a == "--retire-after-hours") {
            std::string h;
            value(h);
            std::size_t used = 0;
            double hours = -1;
            try {
                hours = std::stod(h, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != h.size() || h.find_first_not_of("0123456789.") != std::string::npos ||
                !(hours >= 0 && hours <= 24.0 * 3650)) {
                throw std::runtime_error("--retire-after-hours: expected hours from 0 (never) to 87600, got \"" + h + "\"");
            }
            o.retire_after_hours = hours;
        } else if (a == "--print") {
            o.print_closed = true;
        } else {
            throw std::runtime_error("unknown option \"" + a + "\" (see --help)");
        }
        if (inline_value) {
            throw std::runtime_error(a + " takes no value");
        }
    }
    if (o.transactional_id.empty()) {
        o.transactional_id = "ocpp-billing-" + o.group;
    }
    return true;
}

[[noreturn]] void die(const std::string& what, int code = 3) {
    std::fprintf(stderr, "ocpp-billing: %s\n", what.c_str());
    std::exit(code);
}

/// Exit code of a refusal to start that restarting does not cure.
constexpr int kRefused = 4;

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

/// Log lines about single records (unusable ones, odd ones applied), at most 20 a minute: a
/// flood of bad records must not bury everything else. What was held back is counted and said
/// in the next minute's first line.
class RecordLog {
public:
    void line(const std::string& text) {
        const auto now = std::chrono::steady_clock::now();
        if (now - window_ >= std::chrono::minutes(1)) {
            flush();
            window_ = now;
            written_ = 0;
        }
        if (written_ < 20) {
            ++written_;
            std::fprintf(stderr, "ocpp-billing: %s\n", text.c_str());
        } else {
            ++held_back_;
        }
    }

    /// Says how many lines were held back since it last said so.
    void flush() {
        if (held_back_ > 0) {
            std::fprintf(stderr, "ocpp-billing: %zu more record line(s) like those above held back\n", held_back_);
            held_back_ = 0;
        }
    }

private:
    std::chrono::steady_clock::time_point window_{};
    std::size_t written_ = 0;
    std::size_t held_back_ = 0;
};

std::string where(const rd_kafka_message_t* m) {
    return fmt::format("{} partition {} offset {}", m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?",
                       m->partition, m->offset);
}

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

/// Sessions closed and unchanged since before this leave memory (0: none).
std::int64_t retire_before_ms(const Options& o) {
    return o.retire_after_hours > 0 ? unix_now_ms() - static_cast<std::int64_t>(o.retire_after_hours * 3600000.0) : 0;
}

/// The state: every session record on the sessions topic, up to its last committed
/// transaction (read_committed stops at the last stable offset). A record this version cannot
/// read stops the start: going on would write that session again from the events alone.
void restore(const Options& o, int partitions, billing::Book& book) {
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
    const std::int64_t retire_before = retire_before_ms(o);
    while (static_cast<int>(at_end.size()) < partitions) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 1000);
        if (g_stop != 0) {
            std::exit(0);
        }
        if (m == nullptr) {
            if (std::chrono::steady_clock::now() - progress > kStalled) {
                die(fmt::format("restoring {}: no progress for {} s ({} of {} partitions read){}", o.sessions_topic,
                                kStalled.count(), at_end.size(), partitions,
                                last_error.empty() ? "" : "; last error: " + last_error));
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end.insert(m->partition);
            progress = std::chrono::steady_clock::now();
        } else if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            char reason[512];
            rd_kafka_fatal_error(consumer, reason, sizeof(reason));
            die(std::string("restoring: ") + reason);
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
                const auto j = json::parse(static_cast<const char*>(m->payload),
                                           static_cast<const char*>(m->payload) + m->len, nullptr, false);
                auto s = billing::Session::from_json(j);
                if (!s || s->key != key) {
                    unreadable[key] = where(m);
                    book.forget(key);
                } else {
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
    const int session_partitions = prepare_sessions_topic(producer, o);
    // Fences an earlier instance with the same transactional id and aborts what it left
    // open, so the sessions topic holds only committed batches when it is read back.
    check(rd_kafka_init_transactions(producer, 60000), "init_transactions");

    billing::Book book;
    restore(o, session_partitions, book);

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
    RecordLog record_log;
    const auto say_counts = [&counts](const char* when) {
        std::fprintf(stderr,
                     "ocpp-billing: %s (%llu applied, %llu duplicates, %llu ignored, %llu unusable, %llu late)\n", when,
                     static_cast<unsigned long long>(counts["applied"]),
                     static_cast<unsigned long long>(counts["duplicates"]),
                     static_cast<unsigned long long>(counts["ignored"]),
                     static_cast<unsigned long long>(counts["unusable"]),
                     static_cast<unsigned long long>(counts["late"]));
    };
    // Retirement runs a few times per horizon, at least every minute.
    const auto retire_every = std::chrono::milliseconds(std::clamp<std::int64_t>(
        static_cast<std::int64_t>(o.retire_after_hours * 3600000.0 / 4), 1000, 60000));
    auto retired_at = std::chrono::steady_clock::now();
    auto counts_said = std::chrono::steady_clock::now();
    std::map<std::string, std::uint64_t> counts_then;
    while (g_stop == 0) {
        if (std::chrono::steady_clock::now() - counts_said >= std::chrono::minutes(10)) {
            counts_said = std::chrono::steady_clock::now();
            if (counts != counts_then) {
                record_log.flush();
                say_counts("since the start");
                counts_then = counts;
            }
        }
        // Every session changed so far is written (each batch ends committed), so any may retire.
        if (o.retire_after_hours > 0 && std::chrono::steady_clock::now() - retired_at >= retire_every) {
            retired_at = std::chrono::steady_clock::now();
            if (const std::size_t n = book.retire(retire_before_ms(o)); n > 0) {
                std::fprintf(stderr, "ocpp-billing: retired %zu closed session(s) unchanged for %g h (%zu in memory, %zu retired)\n",
                             n, o.retire_after_hours, book.sessions().size(), book.retired());
            }
        }
        // A batch: what arrives within 100 ms, at most o.batch records.
        std::vector<rd_kafka_message_t*> batch;
        while (static_cast<int>(batch.size()) < o.batch) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, batch.empty() ? 500 : 100);
            if (m == nullptr) {
                break;
            }
            if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                char reason[512];
                rd_kafka_fatal_error(consumer, reason, sizeof(reason));
                die(std::string("consumer: ") + reason);
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
        const std::int64_t now_ms = unix_now_ms();
        for (auto* m : batch) {
            const auto j = m->payload != nullptr
                               ? json::parse(static_cast<const char*>(m->payload),
                                             static_cast<const char*>(m->payload) + m->len, nullptr, false)
                               : json();
            std::string note;
            const auto applied = book.apply(j, &note, now_ms);
            switch (applied) {
                case billing::Applied::changed: ++counts["applied"]; break;
                case billing::Applied::duplicate: ++counts["duplicates"]; break;
                case billing::Applied::ignored: ++counts["ignored"]; break;
                case billing::Applied::unusable: ++counts["unusable"]; break;
                case billing::Applied::late: ++counts["late"]; break;
            }
            if (applied == billing::Applied::unusable) {
                record_log.line("skipped the record at " + where(m) + ": " +
                                (j.is_discarded() ? std::string("not JSON") : note));
            } else if (!note.empty()) {
                record_log.line(where(m) + ": " + note);
            }
        }
        std::vector<std::string> closed;  // printed once committed
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
                closed.push_back(value);
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
        for (const auto& line : closed) {
            std::printf("%s\n", line.c_str());
        }
        std::fflush(stdout);
    }
    record_log.flush();
    say_counts("stopping");
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    rd_kafka_destroy(producer);
    return 0;
}
