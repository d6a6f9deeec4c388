#include "kafka_bridge/producer.hpp"

#include "kafka_bridge/rdkafka_error.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace kafka_bridge {
namespace {

using detail::config_error;
using detail::from_code;

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};

std::optional<std::string> conf_get(const rd_kafka_conf_t* conf, const char* name) {
    char buffer[512];
    std::size_t size = sizeof(buffer);
    if (rd_kafka_conf_get(conf, name, buffer, &size) != RD_KAFKA_CONF_OK) {
        return std::nullopt;
    }
    return std::string(buffer);
}

#ifdef OCPP_RDKAFKA_CONNECTION_INFLIGHT_PATCH
// A produce request carries one partition, and librdkafka keeps each partition within the
// broker's window for recognising a resend (five batches) by itself, so more requests per
// connection only serve more partitions at once (scripts/librdkafka-patches/0004).
constexpr int kMaxInFlightPerConnection = 1000000;
#else
// Without the project's patches librdkafka refuses more than five with idempotence.
constexpr int kMaxInFlightPerConnection = 5;
#endif

// Five, with either batching. More lets a broker milliseconds away serve every partition's
// request at once (p99 0.5-0.7 s down to 31-99 ms at 21 ms), but near the broker more, smaller
// requests queue there (a broker answers one request per connection at a time): the p99 at
// 5,000 msgs/s was worse with 50 in four rounds of five with the linger, and in three of three
// with adaptive batching, which batches while the five are out (docs/benchmarks.md "50
// requests in flight by default: measured, not kept", "Adaptive batching with five in flight").
constexpr int kInFlightPerConnection = 5;

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
    if (!in_flight || std::atoi(in_flight->c_str()) > kMaxInFlightPerConnection ||
        std::atoi(in_flight->c_str()) < 1) {
        return config_error("max.in.flight.requests.per.connection must be 1.." +
                            std::to_string(kMaxInFlightPerConnection) +
                            " for idempotent, ordered delivery");
    }
    return Ok{};
}

using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// The producer's librdkafka configuration: the gateway's settings, then the user's
// properties, checked against what the producer relies on.
Result<ConfPtr, Error> producer_conf(const ProducerConfig& config) {
    ConfPtr conf(rd_kafka_conf_new());
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
        {"max.in.flight.requests.per.connection", std::to_string(kInFlightPerConnection)},
        {"message.timeout.ms", std::to_string(config.delivery_timeout.count())},
        {"linger.ms", config.adaptive_batching ? "0" : std::to_string(config.linger.count())},
        {"queue.buffering.max.messages", std::to_string(config.max_queued_messages)},
        // And by size: librdkafka's 1 GiB is a container's whole memory; 100,000 records of a
        // few KB fit in this.
        {"queue.buffering.max.kbytes", "262144"},
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
    if (config.batch_bytes > 0) {
        if (auto r = set("batch.size", std::to_string(config.batch_bytes)); !r.ok()) {
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
    return conf;
}

}  // namespace

void Producer::HandleDeleter::operator()(rd_kafka_s* handle) const { rd_kafka_destroy(handle); }

Result<Ok, Error> Producer::check_settings(const ProducerConfig& config) {
    auto conf = producer_conf(config);
    if (!conf.ok()) {
        return conf.error();
    }
    return Ok{};
}

Result<std::unique_ptr<Producer>, Error> Producer::create(const ProducerConfig& config) {
    auto built = producer_conf(config);
    if (!built.ok()) {
        return built.error();
    }
    ConfPtr conf = std::move(built.value());
    char errstr[512];

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
    // Destroyed here, while the members its callbacks use (the log function, the error state)
    // still live: as a member it would go after them (rd_kafka_destroy may still log).
    handle_.reset();
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

Result<Ok, Error> Producer::inject_fatal_error(const std::string& reason) {
    const rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
        handle_.get(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return from_code(err, "could not inject a fatal error");
    }
    return Ok{};
}

std::optional<Error> Producer::fatal_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return fatal_error_;
}

std::optional<std::string> Producer::property(const std::string& name) const {
    return conf_get(rd_kafka_conf(handle_.get()), name.c_str());
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
