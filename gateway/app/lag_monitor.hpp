#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/app/stop_signal.hpp"
#include "gateway/config/config.hpp"
#include "kafka_bridge/consumer.hpp"

namespace gateway::app {

/// Measures the lag of the downstream consumer groups the configuration names (lag.groups)
/// against their budgets, every lag.interval_s, on its own thread and consumer — on one
/// instance only: `elected()` says whether this instance is the one (the live instance with
/// the smallest gateway id), so a fleet asks the brokers once, not once per instance.
///
/// Exported (gauges()): ocpp_consumer_lag_records{group,event_class},
/// ocpp_consumer_lag_seconds{group,event_class} (age of the oldest unconsumed record, 0 when
/// caught up), ocpp_consumer_lag_budget_seconds{group}, ocpp_consumer_lag_measuring (1 on
/// the instance measuring), ocpp_consumer_lag_errors_total; each with a tenant label too when
/// it measures a tenant's topics.
class LagMonitor {
public:
    /// `tenant`: the tenant whose topics `config` names (a `tenant` label on every gauge);
    /// empty without tenants.
    LagMonitor(const config::Config& config, std::function<bool()> elected, std::string tenant = {});
    ~LagMonitor();
    LagMonitor(const LagMonitor&) = delete;
    LagMonitor& operator=(const LagMonitor&) = delete;

    /// Starts measuring (nothing when no group is configured).
    void start();
    /// Asks the measuring thread to stop, without waiting: a measurement under way (seconds
    /// against a slow cluster) does not hold up the drain.
    void request_stop();
    /// Stops and waits for the thread.
    void stop();
    void gauges(std::map<std::string, double>& out) const;

private:
    void run();
    void measure(kafka_bridge::Consumer& consumer);

    const config::Config& config_;
    std::function<bool()> elected_;
    /// `tenant="NAME",` or nothing.
    std::string tenant_label_;
    StopSignal stop_;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::map<std::string, double> values_;  // under mutex_
    std::atomic<bool> measuring_{false};  // written under mutex_, with values_
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> errors_{0};
};

}  // namespace gateway::app
