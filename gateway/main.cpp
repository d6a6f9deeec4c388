// ocpp-gateway: wiring and lifecycle.
//
//   start:  config ─▶ schemas ─▶ producer ─▶ Kafka reachable, topics present ─▶ admin listener
//           ─▶ station listener (only once the producer is warm)
//   SIGTERM: stop accepting ─▶ stop reading stations ─▶ in-flight acks and replies finish
//           ─▶ flush ─▶ close sessions with 1001 ─▶ exit 0
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "gateway/admin.hpp"
#include "gateway/commands.hpp"
#include "gateway/config.hpp"
#include "gateway/log.hpp"
#include "gateway/metrics.hpp"
#include "gateway/security.hpp"
#include "gateway/server.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kVersion = "0.1.0";

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq != nullptr) {
            env.emplace(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
        }
    }
    return env;
}

// Stop requests from signals, seen by whoever waits.
class StopSignal {
public:
    void request() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        cv_.notify_all();
    }
    bool requested() {
        std::lock_guard<std::mutex> lock(mutex_);
        return stop_;
    }
    /// Waits up to `d`; returns true when stop was requested.
    bool wait_for(std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> lock(mutex_);
        return cv_.wait_for(lock, d, [this] { return stop_; });
    }
    void wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stop_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
};

// Every station is a socket: make room for max_connections of them plus a margin for Kafka,
// the admin listener and files. Raises the hard limit too when allowed (root).
void raise_fd_limit(std::size_t connections) {
    const rlim_t wanted = static_cast<rlim_t>(connections) + 256;
    rlimit current{};
    if (getrlimit(RLIMIT_NOFILE, &current) != 0 || current.rlim_cur >= wanted) {
        return;
    }
    rlimit raised{wanted, std::max(current.rlim_max, wanted)};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        raised = rlimit{current.rlim_max, current.rlim_max};
        setrlimit(RLIMIT_NOFILE, &raised);
    }
    getrlimit(RLIMIT_NOFILE, &current);
    if (current.rlim_cur < wanted) {
        gateway::log::warn("{} file descriptors available, max_connections {} needs about {}: "
                           "at most about {} stations can connect",
                           static_cast<unsigned long long>(current.rlim_cur), connections,
                           static_cast<unsigned long long>(wanted),
                           static_cast<unsigned long long>(current.rlim_cur > 256 ? current.rlim_cur - 256 : 0));
    }
}

std::vector<kafka_bridge::TopicSpec> required_topics(const gateway::Config& c) {
    std::vector<kafka_bridge::TopicSpec> topics;
    for (const auto& name : c.topics.by_class) {
        topics.push_back({name, -1, -1, {}});
    }
    topics.push_back({c.topics.connections, -1, -1, {}});
    topics.push_back({c.topics.dead_letter, -1, -1, {}});
    // Offsets number 1.6 transactions: one partition; records need not be kept, offsets are
    // never reused even after retention deletes them.
    topics.push_back({c.topics.transaction_ids, 1, -1, {{"retention.ms", "86400000"}}});
    topics.push_back({c.topics.commands, -1, -1, {}});
    topics.push_back({c.topics.command_results, -1, -1, {}});
    // The last record per station (and per instance) is the table; every instance reads it
    // whole at start-up.
    topics.push_back({c.topics.presence, -1, -1, {{"cleanup.policy", "compact"}}});
    // The station registry: the last record per identity is its entry.
    topics.push_back({c.topics.stations, -1, -1, {{"cleanup.policy", "compact"}}});
    // Routes serve duplicate detection for a day; every instance reads them at start-up.
    topics.push_back({c.topics.command_routes, -1, -1, {{"retention.ms", "86400000"}}});
    return topics;
}

int run(const gateway::Config& config) {
    gateway::log::set_level(config.log_level);
    raise_fd_limit(config.limits.max_connections);

    // Signals are taken by one thread; every other thread inherits the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    StopSignal stop;
    std::thread signal_thread([&signals, &stop] {
        int received = 0;
        sigwait(&signals, &received);
        gateway::log::info("signal {} received: draining", received);
        stop.request();
    });
    signal_thread.detach();

    std::unique_ptr<ocpp::SchemaRegistry> schemas;
    try {
        schemas = std::make_unique<ocpp::SchemaRegistry>(config.schema_overrides);
    } catch (const std::exception& e) {
        gateway::log::error("schemas: {}", e.what());
        return 2;
    }
    kafka_bridge::ProducerConfig kafka = config.kafka;
    kafka.log = [](int level, const char* facility, const char* message) {
        const auto l = level <= 3   ? gateway::log::Level::error
                       : level <= 4 ? gateway::log::Level::warn
                       : level <= 6 ? gateway::log::Level::info
                                    : gateway::log::Level::debug;
        if (gateway::log::enabled(l)) {
            gateway::log::write(l, fmt::format("kafka {}: {}", facility, message));
        }
    };
    auto created = kafka_bridge::Producer::create(kafka);
    if (!created.ok()) {
        gateway::log::error("kafka: {}", created.error().message());
        return 2;
    }
    kafka_bridge::ProducerSlot producers(kafka, std::move(created.value()));
    auto producer = [&producers] { return producers.current(); };

    std::atomic<bool> polling{true};
    std::thread poller([&] {
        while (polling.load()) {
            if (auto error = producers.poll_and_recover(50ms)) {
                gateway::log::error("Kafka producer failed ({}); {}", error->to_string(),
                                    error->is_fatal() ? "replaced it with a new one"
                                                      : "could not create a new one");
            }
        }
    });

    // The producer is warm and the topics exist before any station is let in.
    gateway::log::info("gateway {} connecting to Kafka at {}", config.gateway_id, config.kafka.brokers);
    while (true) {
        auto ready = config.create_topics ? producer()->ensure_topics(required_topics(config), 5s)
                                          : producer()->check_cluster(5s);
        if (ready.ok()) {
            break;
        }
        gateway::log::warn("Kafka not ready ({}); retrying", ready.error().to_string());
        if (stop.wait_for(2s)) {
            polling = false;
            poller.join();
            return 0;
        }
    }
    // Every partition must have opened its log before the first record goes to it (see
    // Producer::wait_partitions_ready); this also fetches the metadata the first records need.
    for (const auto& topic : required_topics(config)) {
        if (auto ready = producer()->wait_partitions_ready(topic.name, 60s); !ready.ok()) {
            gateway::log::error("topic {}: {}", topic.name, ready.error().to_string());
            polling = false;
            poller.join();
            return 2;
        }
    }
    const auto partitions = producer()->partition_count(config.topics.transaction_ids, 10s);
    if (partitions.ok() && partitions.value() != 1) {
        gateway::log::error("topic {} has {} partitions; it must have exactly one (it numbers "
                            "OCPP 1.6 transactions)",
                            config.topics.transaction_ids, partitions.value());
        polling = false;
        poller.join();
        return 2;
    }

    gateway::Metrics metrics;
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::atomic<bool> kafka_reachable{true};
    std::atomic<bool> accepting{false};

    gateway::StationRegistry registry;
    if (!config.security.stations_file.empty()) {
        try {
            registry.load_file(config.security.stations_file);
        } catch (const std::exception& e) {
            gateway::log::error("{}", e.what());
            polling = false;
            poller.join();
            return 2;
        }
    }
    std::unique_ptr<gateway::StationServer> listener;
    try {
        listener = gateway::StationServer::create(config, *schemas, producers, metrics, io, registry);
    } catch (const std::exception& e) {
        gateway::log::error("{}", e.what());
        polling = false;
        poller.join();
        return 2;
    }
    gateway::StationServer& stations = *listener;
    gateway::CommandRouter commands(config, *schemas, producers, metrics, stations);
    stations.set_command_sink(&commands);
    commands.follow(config.topics.stations, [&registry](const kafka_bridge::Message& m) {
        if (!m.key) {
            return;
        }
        if (auto problem = registry.apply_record(*m.key, m.value)) {
            gateway::log::warn("station registry record {}@{} ignored: {}", m.partition, m.offset,
                               *problem);
        }
    });
    if (auto error = commands.start(60s)) {
        gateway::log::error("commands: {}", *error);
        polling = false;
        poller.join();
        return 2;
    }
    auto render_metrics = [&] {
        std::map<std::string, double> gauges;
        gauges["ocpp_kafka_queue_depth"] = static_cast<double>(producer()->queue_depth());
        gauges["ocpp_kafka_producer_replacements_total"] =
            static_cast<double>(producers.replacements());
        gauges["ocpp_calls_in_flight"] = static_cast<double>(stations.in_flight());
        gauges["ocpp_ready"] = accepting && kafka_reachable ? 1 : 0;
        for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
            const auto cls = static_cast<ocpp::EventClass>(i);
            for (const auto mode : {gateway::ReplyMode::after_ack, gateway::ReplyMode::immediate}) {
                gauges[fmt::format("ocpp_reply_mode{{event_class=\"{}\",mode=\"{}\"}}",
                                   ocpp::event_class_name(cls), gateway::reply_mode_name(mode))] =
                    config.reply.modes[i] == mode ? 1 : 0;
            }
        }
        return metrics.render(gauges);
    };
    gateway::AdminServer admin(
        config, io, [&] { return accepting.load() && kafka_reachable.load(); }, render_metrics,
        &commands);

    try {
        admin.listen();
        stations.listen();
    } catch (const std::exception& e) {
        gateway::log::error("{}", e.what());
        commands.stop();
        polling = false;
        poller.join();
        return 2;
    }
    accepting = true;

    const unsigned threads =
        config.io_threads > 0 ? config.io_threads : std::max(1U, std::thread::hardware_concurrency());
    std::vector<std::thread> io_threads;
    for (unsigned i = 0; i < threads; ++i) {
        io_threads.emplace_back([&io] { io.run(); });
    }
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        gateway::log::info("event class {} → topic {}, reply {}",
                           ocpp::event_class_name(static_cast<ocpp::EventClass>(i)),
                           config.topics.by_class[i], gateway::reply_mode_name(config.reply.modes[i]));
    }
    gateway::log::info("stations connect to {}://{}{}/{{stationId}} (security profile {}); admin on http://{}",
                       config.security.profile >= 2 ? "wss" : "ws", config.listen.to_string(),
                       config.path_prefix, config.security.profile,
                       config.admin_listen.to_string());

    // Readiness follows the cluster: checked every few seconds off the I/O threads.
    while (!stop.wait_for(3s)) {
        const bool reachable = producer()->check_cluster(2s).ok() && !producer()->fatal_error();
        if (reachable != kafka_reachable.load()) {
            gateway::log::warn("Kafka {}", reachable ? "reachable again" : "unreachable: not ready");
        }
        kafka_reachable = reachable;
        if (auto problem = stations.reload_tls_if_changed()) {
            gateway::log::error("TLS files changed but cannot be used ({}); the previous "
                                "certificates stay in use",
                                *problem);
        }
    }

    // Drain.
    const auto deadline = Clock::now() + config.drain_timeout;
    accepting = false;
    stations.stop_listening();
    // Each session answers the calls it has read, then closes with 1001.
    stations.drain_all();
    while ((stations.session_count() > 0 || stations.closing() > 0) && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);  // polling counts the I/O threads bring to zero
    }
    if (const auto left = stations.session_count(); left > 0) {
        gateway::log::warn("drain timeout: closing {} sessions with {} calls still waiting for "
                           "Kafka; those stations get no answer and will send them again",
                           left, stations.in_flight());
        stations.close_all("gateway shutting down");
        const auto close_deadline = Clock::now() + 5s;
        while ((stations.session_count() > 0 || stations.closing() > 0) &&
               Clock::now() < close_deadline) {
            std::this_thread::sleep_for(20ms);
        }
    }
    // Liveness "Stopped", group left: this instance's command partitions move at once.
    commands.stop();
    // Connection records written while closing.
    if (auto flushed = producer()->flush(10s); !flushed.ok()) {
        gateway::log::warn("flush: {}", flushed.error().to_string());
    }
    work.reset();
    io.stop();
    for (auto& t : io_threads) {
        t.join();
    }
    // Only now, with no I/O thread left: websocketpp's accept loop may be re-arming the
    // acceptor on an I/O thread at any moment, and closing it underneath crashes asio.
    admin.stop_listening();
    polling = false;
    poller.join();
    gateway::log::info("gateway {} stopped", config.gateway_id);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    gateway::CommandLine cl;
    try {
        cl = gateway::parse_command_line(argc, argv, environment());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ocpp-gateway: %s\n", e.what());
        return 2;
    }
    switch (cl.action) {
        case gateway::CommandLine::Action::help:
            std::fputs(gateway::help_text().c_str(), stdout);
            return 0;
        case gateway::CommandLine::Action::version:
            std::printf("ocpp-gateway %s\n", kVersion);
            return 0;
        case gateway::CommandLine::Action::hash_password: {
            // One line from standard input: the password, without its line end.
            std::string password;
            std::getline(std::cin, password);
            if (!password.empty() && password.back() == '\r') {
                password.pop_back();
            }
            if (password.empty()) {
                std::fprintf(stderr, "ocpp-gateway hash-password: no password on standard input\n");
                return 2;
            }
            std::printf("%s\n", gateway::hash_password(password, cl.iterations).c_str());
            return 0;
        }
        case gateway::CommandLine::Action::run:
            break;
    }
    return run(cl.config);
}
