// The idempotent producer with more than five produce requests in flight on one broker
// connection (the project's librdkafka patch 0004, scripts/librdkafka-patches/) against a real
// Apache Kafka broker that stops answering for a while: its requests time out, the connection
// is closed, and everything is sent again once it answers. The broker recognises a resent batch
// by its sequence number only within the last five batches of a partition, which librdkafka
// keeps each partition to by itself; so every record must be acknowledged and on the broker
// once, in order per key.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "integration/kafka_reader.hpp"
#include "kafka_bridge/producer.hpp"

#ifdef OCPP_RDKAFKA_CONNECTION_INFLIGHT_PATCH

using namespace std::chrono_literals;

namespace {

/// The test broker's process id: the pid file deploy/kafka/kafka.sh writes, checked to name a
/// running Kafka broker before anything is sent to it.
pid_t broker_pid() {
    const char* pid_file = std::getenv("OCPP_TEST_KAFKA_PID_FILE");
    REQUIRE(pid_file != nullptr);
    std::ifstream in(pid_file);
    long pid = 0;
    in >> pid;
    REQUIRE(pid > 1);
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
    const std::string command((std::istreambuf_iterator<char>(cmdline)),
                              std::istreambuf_iterator<char>());
    REQUIRE(command.find("kafka.Kafka") != std::string::npos);
    return static_cast<pid_t>(pid);
}

/// The broker stopped (SIGSTOP) until resume() or the end of the scope, so a failed assertion
/// never leaves the broker the other tests share stopped.
class Freeze {
public:
    explicit Freeze(pid_t pid) : pid_(pid) { REQUIRE(::kill(pid_, SIGSTOP) == 0); }
    ~Freeze() { resume(); }
    Freeze(const Freeze&) = delete;
    Freeze& operator=(const Freeze&) = delete;

    void resume() {
        if (!resumed_) {
            ::kill(pid_, SIGCONT);
            resumed_ = true;
        }
    }

private:
    pid_t pid_;
    bool resumed_ = false;
};

/// Produce requests sent and not yet answered, from librdkafka's protocol debug lines ("Sent
/// ProduceRequest", "Received ProduceResponse"; only the partition leader, one connection,
/// gets them), until the first request times out: after it the connection is closed and its
/// requests are never answered. Called from librdkafka's threads.
class InFlightWatch {
public:
    void on_log(std::string_view line) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (line.find("Timed out") != std::string_view::npos) {
            timed_out_ = true;
        } else if (timed_out_) {
            return;
        } else if (line.find("Sent ProduceRequest") != std::string_view::npos) {
            most_ = std::max(most_, ++outstanding_);
        } else if (line.find("Received ProduceResponse") != std::string_view::npos) {
            --outstanding_;
        }
    }
    bool timed_out() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return timed_out_;
    }
    int most() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return most_;
    }

private:
    mutable std::mutex mutex_;
    bool timed_out_ = false;
    int outstanding_ = 0;
    int most_ = 0;
};

}  // namespace

TEST_CASE("with 50 requests in flight per connection, a broker that stops answering loses and "
          "doubles no record",
          "[producer][kafka][inflight]") {
    const pid_t broker = broker_pid();
    InFlightWatch watch;
    kafka_bridge::ProducerConfig config;
    config.brokers = test_support::test_brokers();
    config.properties = {{"max.in.flight.requests.per.connection", "50"},
                         {"socket.timeout.ms", "1000"},
                         {"debug", "protocol"}};
    config.log = [&watch](int, const char*, const char* line) { watch.on_log(line); };
    // Before the producer: its destructor may still report.
    std::vector<kafka_bridge::Delivery> deliveries;
    auto created = kafka_bridge::Producer::create(config);
    REQUIRE(created.ok());
    kafka_bridge::Producer& producer = *created.value();

    const std::string topic =
        "ocpp.it.inflight." +
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    constexpr int kPartitions = 12;
    REQUIRE(producer.ensure_topics({{topic, kPartitions, -1, {}}}, 30s).ok());
    REQUIRE(producer.wait_partitions_ready(topic, 30s).ok());

    constexpr int kKeys = 48;  // spread over every partition
    int produced = 0;
    auto produce_round = [&] {  // one record for each key
        for (int k = 0; k < kKeys; ++k) {
            const std::string key = "CP-" + std::to_string(k);
            const kafka_bridge::Record record{
                topic, key, R"({"key":")" + key + R"(","seq":)" + std::to_string(produced) + "}",
                {}};
            auto r = producer.produce(
                record, [&](const kafka_bridge::Delivery& d) { deliveries.push_back(d); });
            REQUIRE(r.ok());
            ++produced;
        }
    };

    for (int round = 0; round < 10; ++round) {  // the broker answering
        produce_round();
        producer.poll(2ms);
    }
    {
        Freeze freeze(broker);
        // Records keep coming while the broker is stopped, until librdkafka gives up waiting
        // for a request (socket.timeout.ms) and closes the connection.
        const auto limit = std::chrono::steady_clock::now() + 15s;
        while (!watch.timed_out() && std::chrono::steady_clock::now() < limit) {
            produce_round();
            producer.poll(20ms);
        }
        REQUIRE(watch.timed_out());
        freeze.resume();
    }
    for (int round = 0; round < 10; ++round) {  // the broker answering again
        produce_round();
        producer.poll(2ms);
    }
    REQUIRE(producer.flush(30s).ok());
    producer.poll(0ms);

    // More produce requests were out at once on the connection than stock librdkafka allows
    // an idempotent producer (five): every partition had one while the broker was stopped.
    CHECK(watch.most() > 5);
    REQUIRE(deliveries.size() == static_cast<std::size_t>(produced));
    for (const auto& d : deliveries) {
        REQUIRE(d.ok());
    }

    const auto records = test_support::read_topic(config.brokers, topic, 60s);
    REQUIRE(records.size() == static_cast<std::size_t>(produced));
    std::set<std::string> values;
    std::map<std::string, int> last_seq;
    for (const auto& r : records) {
        values.insert(r.value);
        const int seq = std::stoi(r.value.substr(r.value.find("\"seq\":") + 6));
        const auto last = last_seq.find(r.key);
        if (last != last_seq.end()) {
            CHECK(seq > last->second);  // a key's records in the order produced
        }
        last_seq[r.key] = seq;
    }
    CHECK(values.size() == records.size());  // none twice
}

#endif  // OCPP_RDKAFKA_CONNECTION_INFLIGHT_PATCH
