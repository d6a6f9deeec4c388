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
#include <map>
#include <string>
#include <vector>

#include "kafka_bridge/record_json.hpp"
#include "tools/billing/book.hpp"
#include "tools/billing/kafka_io.hpp"
#include "tools/billing/options.hpp"

namespace {

using json = nlohmann::json;
using namespace billing;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

/// A record's Kafka timestamp (CreateTime: the gateway's clock when it produced the record;
/// LogAppendTime when the topic says so); 0 when it has none — such an event is never late.
std::int64_t record_time(const rd_kafka_message_t* m) {
    return std::max<std::int64_t>(rd_kafka_message_timestamp(m, nullptr), 0);
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

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        if (!parse_options(argc, argv, o)) {
            return 0;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ocpp-billing: %s\n", e.what());
        return 2;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    // What it reads and writes, said first: a wrong topic or id shows before anything else.
    std::fprintf(stderr, "ocpp-billing: group %s reads %s and %s, writes %s (transactional id %s)\n", o.group.c_str(),
                 o.transactions_topic.c_str(), o.meter_values_topic.c_str(), o.sessions_topic.c_str(),
                 o.transactional_id.c_str());
    rd_kafka_conf_t* pconf = base_conf(o);
    set(pconf, "transactional.id", o.transactional_id.c_str());
    set(pconf, "enable.idempotence", "true");
    set(pconf, "linger.ms", "5");
    rd_kafka_t* producer = make(RD_KAFKA_PRODUCER, pconf);
    const int session_partitions = prepare_sessions_topic(producer, o);
    // Fences an earlier instance with the same transactional id and aborts what it left
    // open, so the sessions topic holds only committed batches when it is read back.
    check(rd_kafka_init_transactions(producer, 60000), "init_transactions");

    rd_kafka_conf_t* cconf = base_conf(o);
    set(cconf, "group.id", o.group.c_str());
    set(cconf, "enable.auto.commit", "false");
    set(cconf, "isolation.level", "read_committed");
    set(cconf, "auto.offset.reset", "earliest");
    set(cconf, "enable.partition.eof", "true");  // how far it has read (ReadProgress)
    rd_kafka_t* consumer = make(RD_KAFKA_CONSUMER, cconf);
    rd_kafka_poll_set_consumer(consumer);

    // Sessions retire against how far the consumer had read when it last committed, not
    // against the clock: after days down, the events it has not read yet still apply.
    const auto horizon_ms = static_cast<std::int64_t>(o.retire_after_hours * 3600000.0);
    Offsets committed;  // at the start, by partition
    const std::int64_t read_up_to = o.retire_after_hours > 0 ? committed_read_up_to(consumer, o, committed) : 0;
    Book book(horizon_ms);
    restore(o, session_partitions, read_up_to > 0 ? read_up_to - horizon_ms : 0,
            read_up_to > 0 ? read_up_to : unix_now_ms(), g_stop, book);

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
    const auto retire_every = std::chrono::milliseconds(std::clamp<std::int64_t>(horizon_ms / 4, 1000, 60000));
    auto retired_at = std::chrono::steady_clock::now();
    ReadProgress progress(static_cast<std::int64_t>(o.clock_slack_s) * 1000, read_up_to);
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
            const std::int64_t up_to = progress.refresh(consumer);
            if (const std::size_t n = up_to > 0 ? book.retire(up_to - horizon_ms) : 0; n > 0) {
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
                die_fatal(consumer, "consumer");
            }
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                progress.end_of(m);
            } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                std::fprintf(stderr, "ocpp-billing: consumer: %s\n", rd_kafka_message_errstr(m));
            }
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_message_destroy(m);
                continue;
            }
            progress.record(m, record_time(m));
            batch.push_back(m);
        }
        if (batch.empty()) {
            continue;
        }
        for (auto* m : batch) {
            const auto j = m->payload != nullptr
                               ? kafka_bridge::parse_record_json(
                                     std::string_view(static_cast<const char*>(m->payload), m->len))
                               : json();
            std::string note;
            const auto applied = book.apply(j, &note, record_time(m));
            switch (applied) {
                case Applied::changed: ++counts["applied"]; break;
                case Applied::duplicate: ++counts["duplicates"]; break;
                case Applied::ignored: ++counts["ignored"]; break;
                case Applied::unusable: ++counts["unusable"]; break;
                case Applied::late: ++counts["late"]; break;
            }
            if (applied == Applied::unusable) {
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
        Offsets next;
        for (auto* m : batch) {
            next[{rd_kafka_topic_name(m->rkt), m->partition}] = m->offset + 1;
            rd_kafka_message_destroy(m);
        }
        rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
        if (progress.point() > 0) {
            add_assigned(consumer, committed, next);  // the point goes on every partition
        }
        for (const auto& [tp, offset] : next) {
            rd_kafka_topic_partition_list_add(offsets, tp.first.c_str(), tp.second)->offset = offset;
        }
        if (progress.point() > 0) {
            set_read_up_to(offsets, progress.point());
        }
        rd_kafka_consumer_group_metadata_t* cgmd = rd_kafka_consumer_group_metadata(consumer);
        check(rd_kafka_send_offsets_to_transaction(producer, offsets, cgmd, 60000), "send_offsets_to_transaction");
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        rd_kafka_topic_partition_list_destroy(offsets);
        check(rd_kafka_commit_transaction(producer, 60000), "commit_transaction");
        // What add_assigned() falls back to for a partition with no position (nothing read
        // from it since its last assignment) is its latest commit, never an older one.
        for (const auto& [tp, offset] : next) {
            committed[tp] = offset;
        }
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
