#include "gateway/app/app.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>

#include "gateway/app/kafka_readiness.hpp"
#include "gateway/app/systemd_notify.hpp"
#include "gateway/log/log.hpp"
#include "gateway/security/forwarded_certificate.hpp"
#include "gateway/security/tls.hpp"
#include "gateway/session/session.hpp"
#include "kafka_bridge/envelope.hpp"

namespace gateway::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
        log::warn("{} file descriptors available, max_connections {} needs about {}: at most "
                  "about {} stations can connect",
                  static_cast<unsigned long long>(current.rlim_cur), connections,
                  static_cast<unsigned long long>(wanted),
                  static_cast<unsigned long long>(current.rlim_cur > 256 ? current.rlim_cur - 256 : 0));
    }
}

/// Waits until `done()` or `deadline`, checking every 20 ms (counts the I/O threads bring
/// to zero).
template <class F>
void wait_until(F done, Clock::time_point deadline) {
    while (!done() && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
}

void tell_service_manager(const std::string& state) {
    if (const auto problem = notify_service_manager(state); !problem.empty()) {
        log::warn("{}", problem);
    }
}

}  // namespace

void stop_on_signals(StopSignal& stop) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals, &stop] {
        log::name_thread("ocpp-signals");
        int received = 0;
        sigwait(&signals, &received);
        log::info("signal {} received: draining", received);
        stop.request();
    }).detach();
}

App::~App() {
    // Whatever start() reached: nothing may call into Kafka or the sessions once the
    // producer slot is gone (it is destroyed first, see the class comment). The routers stop
    // first (REST calls waiting on them are answered through the admin listener), then the
    // admin listener, whose pages read every part.
    for (auto& tenant : tenants_) {
        if (tenant->router) {
            tenant->router->stop();
        }
    }
    close_admin();
    stop_io_threads();
    for (auto& tenant : tenants_) {
        tenant->own_poller.stop();
        tenant->own_producers.reset();
    }
    delivery_pump_.reset();
}

int App::run() {
    log::set_level(config_.log_level);
    raise_fd_limit(config_.limits.max_connections);
    stop_on_signals(stop_);
    if (auto problem = start()) {
        log::error("{}", *problem);
        return 2;
    }
    if (stopped_early_) {
        return 0;
    }
    for (auto& tenant : tenants_) {
        tenant->lag->start();
    }
    // Listening, with Kafka and its topics checked: a Type=notify unit is started now.
    tell_service_manager("READY=1\nSTATUS=serving stations on " + config_.listen.to_string());
    serve();
    for (auto& tenant : tenants_) {
        tenant->lag->request_stop();  // joined after the drain, which it must not delay
    }
    tell_service_manager("STOPPING=1\nSTATUS=draining");
    drain();
    for (auto& tenant : tenants_) {
        tenant->lag->stop();
    }
    log::info("gateway {} stopped", config_.gateway_id);
    return 0;
}

std::optional<std::string> check_files(const config::Config& config) {
    try {
        const ocpp::SchemaRegistry schemas(config.schema_overrides);
    } catch (const std::exception& e) {
        return std::string("schemas: ") + e.what();
    }
    try {
        if (config.security.profile >= 2 && !config.tls.offload) {
            const security::TlsContext tls(config.tls, config.security.profile,
                                           [](const std::string&, const std::string&) {});
        }
        if (config.security.profile == 3 && config.tls.offload) {
            const security::ForwardedCertificates forwarded(config.tls);  // its CA bundle
        }
        if (!config.security.stations_file.empty()) {
            security::StationRegistry registry;
            registry.load_file(config.security.stations_file);
        }
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

std::optional<std::string> App::start() {
    // A file's problem is found before any topic is created or any station let in.
    if (auto problem = check_files(config_)) {
        return problem;
    }
    if (auto problem = open_admin()) {
        return problem;
    }
    if (auto problem = connect_kafka()) {
        return problem;
    }
    if (stopped_early_) {
        return std::nullopt;
    }
    if (auto problem = build_parts()) {
        return problem;
    }
    return open();
}

std::optional<std::string> App::connect_kafka() {
    if (config_.tenants.empty()) {
        tenants_.push_back(std::make_unique<Tenant>());
        tenants_.back()->config = config_;
    }
    for (const auto& t : config_.tenants) {
        tenants_.push_back(std::make_unique<Tenant>());
        tenants_.back()->config = config::tenant_config(config_, t);
        tenants_.back()->name = t.name;
        tenants_.back()->max_stations = t.max_stations;
    }
    try {
        schemas_ = std::make_unique<ocpp::SchemaRegistry>(config_.schema_overrides);
    } catch (const std::exception& e) {
        return std::string("schemas: ") + e.what();
    }
    // Every client of the gateway logs through its log (the router's consumers too), not
    // librdkafka's own stderr printer.
    config_.kafka.log = log_kafka;
    kafka_bridge::ProducerConfig kafka = config_.kafka;
    auto created = kafka_bridge::Producer::create(kafka);
    if (!created.ok()) {
        return "kafka: " + created.error().message();
    }
    producers_ = std::make_unique<kafka_bridge::ProducerSlot>(kafka, std::move(created.value()));
    poller_.start([this](const std::atomic<bool>& running) {
        log::name_thread("ocpp-kafka-poll");
        while (running.load()) {
            if (auto error = producers_->poll_and_recover(50ms)) {
                log::error("Kafka producer failed ({}); {}", error->to_string(),
                           error->is_fatal() ? "replaced it with a new one"
                                             : "could not create a new one");
            }
        }
    });
    // The producer is warm and the topics exist before any station is let in.
    log::info("gateway {} connecting to Kafka at {}", config_.gateway_id, config_.kafka.brokers);
    if (!kafka_bridge::librdkafka_fails_unknown_outcomes_on_epoch_bump()) {
        log::warn("librdkafka {} without the project's patch (scripts/librdkafka-patches/): when "
                  "the producer's epoch is bumped (e.g. in a broker rolling restart) a record can "
                  "be written twice",
                  kafka_bridge::librdkafka_version());
    }
    std::string problem;
    switch (wait_for_kafka(config_, *producers_, stop_, problem, topic_durability_)) {
        case Readiness::ready:
            break;
        case Readiness::stopped:
            stopped_early_ = true;
            return std::nullopt;
        case Readiness::unusable:
            return problem;
    }
    for (auto& tenant : tenants_) {
        tenant->producers = producers_.get();
        const bool own = std::any_of(config_.tenants.begin(), config_.tenants.end(), [&](const auto& t) {
            return t.name == tenant->name && config::has_own_cluster(config_, t);
        });
        if (own) {
            if (auto failed = connect_tenant_cluster(*tenant)) {
                return failed;
            }
            if (stopped_early_) {
                return std::nullopt;
            }
        }
        if (!check_transaction_ids_at_start(*tenant)) {
            stopped_early_ = true;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<std::string> App::build_parts() {
    for (auto& io : contexts_) {
        work_.push_back(asio::make_work_guard(*io));
    }
    events_ = std::make_unique<security::EventWriter>(config_, *producers_, metrics_);
    std::vector<station::TenantParts> parts;
    for (auto& tenant : tenants_) {
        tenant->events = std::make_unique<security::EventWriter>(tenant->config, *tenant->producers, metrics_);
        parts.push_back(station::TenantParts{tenant->config, *tenant->producers, tenant->name,
                                             tenant->max_stations, tenant->registry, tenant->tokens,
                                             *tenant->events, tenant->violations,
                                             tenant->transaction_ids_end});
    }
    try {
        if (!config_.security.stations_file.empty()) {
            tenants_.front()->registry.load_file(config_.security.stations_file);  // no tenants
        }
        std::vector<asio::io_context*> contexts;
        for (auto& io : contexts_) {
            contexts.push_back(io.get());
        }
        listener_ = station::Listener::create(config_, *schemas_, metrics_, contexts, parts, *events_);
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    if (config_.reply.ask != config::Config::Reply::Ask::never) {
        for (std::size_t i = 0; i < tenants_.size(); ++i) {
            listener_->set_ask_table(i, &tenants_[i]->asks);
        }
    }
    for (std::size_t i = 0; i < tenants_.size(); ++i) {
        if (auto problem = start_tenant(i)) {
            return problem;
        }
    }
    return std::nullopt;
}

std::optional<std::string> App::open_admin() {
    admin_ = std::make_unique<admin::AdminServer>(
        config_, config::admin_policy(config_), admin_io_, [this] { return ready(); },
        [this] { return render_metrics(); });
    admin_->await_commands();
    try {
        admin_->listen();
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    admin_work_.emplace(admin_io_.get_executor());
    admin_thread_ = std::thread([this] {
        log::name_thread("ocpp-admin");
        admin_io_.run();
    });
    return std::nullopt;
}

void App::close_admin() {
    if (admin_thread_.joinable()) {
        admin_work_.reset();
        admin_io_.stop();
        admin_thread_.join();
    }
    // Only now, with its thread gone: websocketpp's accept loop may be re-arming the
    // acceptor on that thread at any moment, and closing it underneath crashes asio.
    if (admin_) {
        admin_->stop_listening();
        admin_.reset();
    }
}

std::optional<std::string> App::open() {
    std::function<std::optional<std::string>()> inject_fatal;
    if (config_.admin_test_hooks) {
        log::warn("admin.test_hooks is on: POST /test/kafka-fatal injects producer fatal errors "
                  "(testing only)");
        inject_fatal = [this]() -> std::optional<std::string> {
            auto injected = producers_->current()->inject_fatal_error("injected through /test/kafka-fatal");
            if (!injected.ok()) {
                return injected.error().to_string();
            }
            return std::nullopt;
        };
    }
    std::map<std::string, commands::Router*> routers;
    for (auto& tenant : tenants_) {
        routers[tenant->name] = tenant->router.get();
    }
    parts_built_ = true;
    admin_->serve_commands(std::move(routers), std::move(inject_fatal));
    try {
        listener_->listen();
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    accepting_ = true;
    delivery_pump_ = std::make_unique<DeliveryPump>(io_, *producers_);
    if (const std::error_code ec = delivery_pump_->start()) {
        log::warn("delivery reports stay on their own thread (no eventfd: {})", ec.message());
    }
    for (std::size_t i = 0; i < contexts_.size(); ++i) {
        io_threads_.emplace_back([&io = *contexts_[i], i] {
            log::name_thread("ocpp-io-" + std::to_string(i));
            io.run();
        });
    }
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        log::info("event class {} → topic {}{}, reply {}",
                  ocpp::event_class_name(static_cast<ocpp::EventClass>(i)),
                  config_.tenants.empty() ? "" : "PREFIX+", config_.topics.by_class[i],
                  config::reply_mode_name(config_.reply.modes[i]));
    }
    for (const auto& t : config_.tenants) {
        log::info("tenant {}: stations at {}/{}/{{stationId}}, topics {}*{}", t.name, config_.path_prefix,
                  t.name, t.topic_prefix,
                  t.max_stations > 0 ? fmt::format(", at most {} stations here", t.max_stations) : "");
    }
    for (const auto& listener : config::unauthenticated_exposures(config_)) {
        if (listener == "stations") {
            log::warn("security profile 0 on {} (security.profile0_exposed): anyone who reaches "
                      "the port can connect as any station and write its events",
                      config_.listen.to_string());
        } else {
            log::warn("admin listener on {} without admin.token (admin.exposed_without_token): "
                      "/metrics open to anyone who reaches the port, /v1 refused",
                      config_.admin_listen.to_string());
        }
    }
    log::info("stations connect to {}://{}{}{}/{{stationId}} (security profile {}); admin on http://{}",
              config_.security.profile >= 2 ? "wss" : "ws", config_.listen.to_string(),
              config_.path_prefix, config_.tenants.empty() ? "" : "/{tenant}", config_.security.profile,
              config_.admin_listen.to_string());
    return std::nullopt;
}

unsigned App::io_thread_count() const {
    return config_.io_threads > 0 ? config_.io_threads
                                  : std::max(1U, std::thread::hardware_concurrency());
}

std::vector<std::unique_ptr<asio::io_context>> App::make_contexts(unsigned count) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < count; ++i) {
        contexts.push_back(std::make_unique<asio::io_context>(1));
    }
    return contexts;
}

void App::stop_io_threads() {
    work_.clear();
    for (auto& io : contexts_) {
        io->stop();
    }
    for (auto& t : io_threads_) {
        t.join();
    }
    io_threads_.clear();
}

void App::serve() {
    // Readiness follows the cluster: checked every few seconds off the I/O threads.
    const auto topic_period = config_.topic_check_interval;
    auto next_topic_check = Clock::now();
    if (topic_period.count() > 0) {
        check_topics();
        next_topic_check = Clock::now() + topic_period;
    }
    const auto report_period = config_.tolerance_report_interval;
    auto next_report = Clock::now() + report_period;
    std::chrono::seconds tick =
        topic_period.count() > 0 ? std::min(topic_period, std::chrono::seconds(3)) : 3s;
    if (report_period.count() > 0) {
        tick = std::min(tick, report_period);
    }
    while (!stop_.wait_for(tick)) {
        if (topic_period.count() > 0 && Clock::now() >= next_topic_check) {
            check_topics();
            next_topic_check = Clock::now() + topic_period;
        }
        if (report_period.count() > 0 && Clock::now() >= next_report) {
            report_violations();
            next_report = Clock::now() + report_period;
        }
        // A SIGTERM that came during the checks above starts the drain now, not after the
        // cluster checks below (seconds each against a slow cluster).
        if (stop_.wait_for(0ms)) {
            break;
        }
        // One small topic's metadata: a broker answering is all this needs to know.
        // fatal_error() is read from the producer current after the check, so one replaced
        // during it is not judged.
        const bool answered = producers_->current()
                                  ->check_cluster(2s, tenants_.front()->config.topics.transaction_ids)
                                  .ok();
        const bool reachable =
            kafka_check_.observe(answered && !producers_->current()->fatal_error());
        if (reachable != kafka_reachable_.load()) {
            log::warn("Kafka {}", reachable ? "reachable again" : "unreachable: not ready");
        }
        kafka_reachable_ = reachable;
        for (auto& tenant : tenants_) {
            if (!tenant->own_producers) {
                continue;
            }
            const bool answered = tenant->own_producers->current()
                                      ->check_cluster(2s, tenant->config.topics.transaction_ids)
                                      .ok();
            const bool up = tenant->kafka_check.observe(
                answered && !tenant->own_producers->current()->fatal_error());
            if (up != tenant->reachable.load()) {
                log::warn("Kafka of tenant {} {}", tenant->name,
                          up ? "reachable again" : "unreachable: its stations' records fail");
            }
            tenant->reachable = up;
        }
        watch_transaction_ids();
        if (auto problem = listener_->reload_tls_if_changed()) {
            log::error("TLS files changed but cannot be used ({}); the previous certificates "
                       "stay in use",
                       *problem);
        }
    }
}

void App::report_violations() {
    const std::string to = kafka_bridge::now_rfc3339();
    for (auto& tenant : tenants_) {
        for (const auto& row : tenant->violations.take()) {
            kafka_bridge::Record record{tenant->config.topics.violations, row.key(),
                                        row.to_record(config_.gateway_id, last_violation_report_, to),
                                        {{"content-type", "application/json"}}};
            auto& metrics = metrics_;
            auto queued = tenant->producers->current()->produce(
                record, [&metrics, topic = record.topic](const kafka_bridge::Delivery& d) {
                    if (!d.ok()) {
                        metrics.delivery_failure(topic);
                    }
                });
            if (!queued.ok()) {
                metrics_.delivery_failure(record.topic);
                log::warn("schema refusals of {} {} not reported: {}", row.vendor, row.model,
                          queued.error().to_string());
            }
        }
    }
    last_violation_report_ = to;
}

void App::check_topics() {
    std::vector<std::string> names;
    for (const auto& topic : required_topics(config_)) {
        names.push_back(topic.name);
    }
    auto states = producers_->current()->describe_topics(names, 5s);
    if (!states.ok()) {
        log::debug("topic check: {}", states.error().to_string());
        return;
    }
    if (!topic_watch_started_) {
        topic_watch_.start(states.value());
        topic_watch_started_ = true;
        return;
    }
    for (const auto& change : topic_watch_.observe(states.value())) {
        if (change.is_error()) {
            log::error("{}", change.describe());
        } else {
            log::warn("{}", change.describe());
        }
    }
}

void App::drain() {
    const auto deadline = Clock::now() + config_.drain_timeout;
    // The port closes before /readyz says 503: whoever sees the 503 finds the port closed.
    listener_->stop_listening();
    accepting_ = false;
    // Each session answers the calls it has read, then closes with 1001.
    listener_->drain_all();
    // An upgrade validated just before the drain began opens after drain_all() and is
    // drained then (WsListener::on_open): waited for as well.
    auto sessions_gone = [this] {
        return listener_->session_count() == 0 && listener_->upgrading() == 0 &&
               listener_->closing() == 0;
    };
    wait_until(sessions_gone, deadline);
    if (const auto left = listener_->session_count(); left > 0) {
        log::warn("drain timeout: closing {} sessions with {} calls still waiting for Kafka; "
                  "those stations get no answer and will send them again",
                  left, listener_->in_flight());
        listener_->close_all("gateway shutting down");
        wait_until(sessions_gone, Clock::now() + 5s);
    }
    // What Kafka still has to do shares the drain's deadline (at least a second each), so
    // the process ends whatever Kafka does: with the brokers gone, nothing here waits longer.
    auto remaining = [&deadline](std::chrono::milliseconds cap) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return std::clamp(left, std::chrono::milliseconds(1000), cap);
    };
    // Liveness "Stopped", group left: this instance's command partitions move at once.
    for (auto& tenant : tenants_) {
        tenant->router->stop(remaining(5s));
    }
    // The refusals counted since the last report; then connection records written while closing.
    if (config_.tolerance_report_interval.count() > 0) {
        report_violations();
    }
    if (auto flushed = producers_->current()->flush(remaining(10s)); !flushed.ok()) {
        log::warn("flush: {}", flushed.error().to_string());
    }
    for (auto& tenant : tenants_) {
        if (!tenant->own_producers) {
            continue;
        }
        if (auto flushed = tenant->own_producers->current()->flush(remaining(10s)); !flushed.ok()) {
            log::warn("flush (tenant {}): {}", tenant->name, flushed.error().to_string());
        }
    }
    stop_io_threads();
    delivery_pump_.reset();  // what Kafka still reports is served by the poller
    close_admin();
    poller_.stop();
}

}  // namespace gateway::app
