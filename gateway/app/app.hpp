#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/admin/admin_server.hpp"
#include "gateway/app/delivery_pump.hpp"
#include "gateway/app/kafka_readiness.hpp"
#include "gateway/app/lag_monitor.hpp"
#include "gateway/app/stop_signal.hpp"
#include "gateway/app/topic_watch.hpp"
#include "gateway/app/transaction_ids.hpp"
#include "gateway/commands/router.hpp"
#include "gateway/config/config.hpp"
#include "gateway/decisions/asks.hpp"
#include "gateway/decisions/token_table.hpp"
#include "gateway/log/log.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/security/events.hpp"
#include "gateway/security/registry.hpp"
#include "gateway/station/listener.hpp"
#include "kafka_bridge/envelope.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway::app {

/// A thread that runs `body(running)` until stopped; joined by stop() or the destructor.
class Worker {
public:
    Worker() = default;
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    ~Worker() { stop(); }
    template <class F>
    void start(F body) {
        running_ = true;
        thread_ = std::thread([this, body = std::move(body)] { body(running_); });
    }
    void stop() {
        running_ = false;
        if (thread_.joinable()) {
            thread_.join();
        }
    }

private:
    std::atomic<bool> running_{false};
    std::thread thread_;
};

/// What a start would refuse in the files the configuration names, read as the start reads
/// them: the schema overrides, the TLS certificates, keys and CA bundle (TLS at the gateway),
/// the stations file. Both check-config and a start run it before anything touches Kafka.
std::optional<std::string> check_files(const config::Config& config);

/// The gateway process: owns every part, in lifetime order.
///
///   start:  files checked ─▶ admin listener (its own thread: /healthz 200, /readyz 503
///           "starting", /metrics, /v1 503) ─▶ schemas ─▶ producer (+ poller) ─▶ Kafka ready,
///           topics present ─▶ registry ─▶ station listener (not yet listening) ─▶ command
///           router ─▶ /v1 served ─▶ station listener opens ─▶ delivery reports move to the
///           I/O threads ─▶ I/O threads
///   serve:  readiness and TLS files checked every 3 s (and the transaction-id topic moved on
///           when it gave an id given before), topics every kafka.topic_check_interval_s,
///           until SIGTERM / SIGINT
///   drain:  stop accepting ─▶ sessions answer what they read, close 1001 ─▶ router stops
///           (liveness Stopped, group left) ─▶ flush ─▶ I/O threads end ─▶ delivery reports
///           back to the poller ─▶ admin listener closes ─▶ poller ends
///
/// Members are declared so that destruction runs in the safe order whatever happened: the
/// producer slot (whose last delivery callbacks reach sessions, metrics and the router) goes
/// before everything its callbacks use, and after the threads that use it.
class App {
public:
    explicit App(config::Config config) : config_(std::move(config)) {}
    App(const App&) = delete;
    App& operator=(const App&) = delete;
    ~App();

    /// Runs the gateway until a stop signal; 0 after a drain, 2 when it cannot start.
    int run();

private:
    /// Builds and opens everything; the problem in words when the gateway cannot start,
    /// nothing when it runs (or a stop came first: then `stopped_early_`).
    std::optional<std::string> start();
    /// Schemas, the producer and its poller; waits for Kafka and the topics (every cluster's).
    std::optional<std::string> connect_kafka();
    struct Tenant;
    /// A tenant's own cluster: its producer and poller; waits for it and its topics.
    std::optional<std::string> connect_tenant_cluster(Tenant& tenant);
    /// Registry, station listener (not yet listening), command router (started).
    std::optional<std::string> build_parts();
    /// The admin listener opens on its own thread, before Kafka is waited for: a process
    /// waiting for Kafka is alive (/healthz) and says why it is not ready.
    std::optional<std::string> open_admin();
    /// Ends the admin listener's thread, then closes the listener (idempotent).
    void close_admin();
    /// /v1 served, the station listener opens, I/O threads run.
    std::optional<std::string> open();
    void serve();
    /// Asks the cluster about every topic of the gateway and reports what changed since the
    /// last time (TopicWatch).
    void check_topics();
    /// Writes each tenant's schema refusals per station model since the last report.
    void report_violations();
    void drain();
    /// After a registry record (tables thread): a station connected here in Pending that is
    /// now Accepted is asked to boot again (TriggerMessage BootNotification, as a command).
    void trigger_boot_if_approved(Tenant& tenant, std::size_t index, const std::string& station_id);
    /// One record of the authorization-decision topic (tables thread).
    void apply_decision_record(Tenant& tenant, const kafka_bridge::Message& m);
    /// One record of a tenant's id-token topic (its tables thread).
    void apply_token_record(Tenant& tenant, const kafka_bridge::Message& m);
    /// One check of the tenant's transaction-id topic against the ids already given, moving
    /// it on when behind (transaction_ids.hpp); ids up to `floor` may have been given. Logs a
    /// move; the problem in words otherwise.
    ocpp::Result<TransactionIdCheck, std::string> check_transaction_ids(Tenant& tenant, std::int64_t floor);
    /// At start-up: check_transaction_ids until it works, every 5 s, six times at most (then
    /// logged, and the gateway goes on); false when a stop came first.
    bool check_transaction_ids_at_start(Tenant& tenant);
    /// Serve thread, every tick: a tenant's transaction-id topic seen gone or created again (a
    /// new topic id) suspends its numbering; such a tenant, or one whose sessions were
    /// refused an id, is checked (every 5 s until it works), and its
    /// session::TransactionIdGuard resumes past the topic's end.
    void watch_transaction_ids();
    /// Reads a tenant's tables and starts its command router.
    std::optional<std::string> start_tenant(std::size_t index);
    /// The Prometheus page; while starting (parts_built_ false), only what exists before Kafka.
    std::string render_metrics() const;
    /// The gauges of the parts built after Kafka was ready.
    void part_gauges(std::map<std::string, double>& gauges) const;
    bool ready() const { return accepting_.load() && kafka_reachable_.load(); }
    /// io_threads, or one per core when 0.
    unsigned io_thread_count() const;
    static std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned count);
    /// Stops the I/O threads (what their queues still hold is not run) and waits for them.
    void stop_io_threads();

    config::Config config_;
    StopSignal stop_;
    /// When report_violations() last ran (the start of the interval the next one covers).
    std::string last_violation_report_ = kafka_bridge::now_rfc3339();
    bool stopped_early_ = false;
    /// How durable each topic was found at start-up (written before the admin listener opens).
    std::vector<TopicDurabilityReport> topic_durability_;
    TopicWatch topic_watch_;
    bool topic_watch_started_ = false;
    std::atomic<bool> accepting_{false};
    /// Every part render_metrics() reads exists (set once, before /v1 is served).
    std::atomic<bool> parts_built_{false};
    std::atomic<bool> kafka_reachable_{true};
    /// The checks behind kafka_reachable_ (serve thread).
    Reachability kafka_check_;
    std::unique_ptr<ocpp::SchemaRegistry> schemas_;
    metrics::Metrics metrics_;
    /// One context per I/O thread, each told that one thread runs it (handlers it posts to
    /// itself stay on that thread's own queue instead of waking the reactor). The listener
    /// deals connections out to them; the first also serves the accept loop and the delivery
    /// reports. A thread never takes over another's work, so a
    /// message is read, handled and answered on one thread (docs/benchmarks.md, "One
    /// io_context per I/O thread").
    std::vector<std::unique_ptr<asio::io_context>> contexts_ = make_contexts(io_thread_count());
    asio::io_context& io_ = *contexts_.front();
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    /// The admin listener's context, apart from the I/O threads so that it serves from before
    /// Kafka is ready to the end of the drain; it outlives the listener and the routers whose
    /// REST answers it carries.
    asio::io_context admin_io_{1};
    /// Security events no tenant can be named for (the gateway's own topics).
    std::unique_ptr<security::EventWriter> events_;
    /// What the gateway keeps for one tenant: the only one, named "", without tenants.
    struct Tenant {
        /// tenant_config() of the gateway's, or the gateway's own without tenants.
        config::Config config;
        std::string name;
        std::size_t max_stations = 0;
        /// A tenant with a Kafka cluster of its own: its producers and their poller (delivery
        /// reports on that thread). Reset in ~App with the I/O threads gone, before the
        /// listener whose sessions its last reports reach.
        std::unique_ptr<kafka_bridge::ProducerSlot> own_producers;
        Worker own_poller;
        std::atomic<bool> reachable{true};
        /// The checks behind `reachable` (serve thread).
        Reachability kafka_check;
        /// The producers of its cluster: the gateway's or own_producers.
        kafka_bridge::ProducerSlot* producers = nullptr;
        security::StationRegistry registry;
        decisions::TokenTable tokens;
        /// Ask mode's questions waiting for a decision on this tenant's topic (the I/O
        /// threads whose timers use it are stopped before tenants_ goes).
        decisions::AskTable asks;
        /// Unusable records of its table topics (warned from its table thread).
        log::ThrottledWarning skipped_decisions;
        log::ThrottledWarning skipped_tokens;  // counted by `tokens` as well
        log::ThrottledWarning skipped_stations;
        std::unique_ptr<security::EventWriter> events;
        /// Its transaction-id topic's end offset once checked at start-up.
        std::int64_t transaction_ids_end = 0;
        /// watch_transaction_ids(): a check is due, not before this time; the topic's id
        /// (serve thread).
        bool transaction_ids_due = false;
        std::string transaction_ids_topic;
        std::chrono::steady_clock::time_point transaction_ids_next{};
        /// Its schema refusals per station model since the last report (topics.violations).
        session::ViolationTally violations;
        std::unique_ptr<commands::Router> router;
        /// Downstream consumer lag (lag.groups) on its topics; asks its router who is
        /// elected to measure.
        std::unique_ptr<LagMonitor> lag;
    };
    /// Routers are stopped (~App, drain) before the listener they look sessions up in goes.
    std::vector<std::unique_ptr<Tenant>> tenants_;
    std::unique_ptr<station::Listener> listener_;
    /// The admin listener's thread (admin_io_), ended by close_admin().
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> admin_work_;
    std::thread admin_thread_;
    std::unique_ptr<admin::AdminServer> admin_;
    std::vector<std::thread> io_threads_;
    /// Delivery reports on the I/O threads; reset before the producer slot it points to.
    std::unique_ptr<DeliveryPump> delivery_pump_;
    // Destroyed first: see the class comment.
    std::unique_ptr<kafka_bridge::ProducerSlot> producers_;
    Worker poller_;
};

}  // namespace gateway::app
