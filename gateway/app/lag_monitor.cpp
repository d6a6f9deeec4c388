#include "gateway/app/lag_monitor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gateway/log/log.hpp"
#include "kafka_bridge/commands.hpp"

namespace gateway::app {

using namespace std::chrono_literals;

LagMonitor::LagMonitor(const config::Config& config, std::function<bool()> elected, std::string tenant)
    : config_(config),
      elected_(std::move(elected)),
      tenant_label_(tenant.empty() ? std::string() : fmt::format("tenant=\"{}\",", tenant)) {}

LagMonitor::~LagMonitor() { stop(); }

void LagMonitor::start() {
    if (config_.lag.groups.empty() || thread_.joinable()) {
        return;
    }
    thread_ = std::thread([this] {
        log::name_thread("ocpp-lag");
        run();
    });
}

void LagMonitor::request_stop() {
    stopping_ = true;
    stop_.request();
}

void LagMonitor::stop() {
    request_stop();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void LagMonitor::run() {
    kafka_bridge::ConsumerConfig settings = config::consumer_config(config_);
    settings.log = [](int level, const char* facility, const char* message) {
        if (level <= 4) {
            log::warn("librdkafka (lag) {}: {}", facility, message);
        }
    };
    auto created = kafka_bridge::Consumer::create(settings);
    if (!created.ok()) {
        log::error("consumer lag not measured: {}", created.error().to_string());
        return;
    }
    auto consumer = std::move(created.value());
    do {
        const bool elected = elected_();
        if (elected != measuring_.load()) {
            log::info("consumer lag: {} instance measures it", elected ? "this" : "another");
            // The flag and the values change together: a scrape never sees this instance
            // not measuring beside the values it measured.
            std::lock_guard<std::mutex> lock(mutex_);
            measuring_ = elected;
            if (!elected) {
                values_.clear();
            }
        }
        if (elected) {
            measure(*consumer);
        }
    } while (!stop_.wait_for(config_.lag.interval));
    consumer->close(2s);
}

void LagMonitor::measure(kafka_bridge::Consumer& consumer) {
    std::map<std::string, double> values;
    std::map<std::string, double> previous;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        previous = values_;
    }
    // A class not measured this time keeps what was last measured: a lag alert does not go
    // quiet because the cluster is too slow to say (ocpp_consumer_lag_errors_total counts it).
    const auto keep_previous = [&](const std::string& name) {
        if (const auto it = previous.find(name); it != previous.end()) {
            values[name] = it->second;
        }
    };
    for (const auto& g : config_.lag.groups) {
        values[fmt::format("ocpp_consumer_lag_budget_seconds{{{}group=\"{}\"}}", tenant_label_, g.group)] =
            static_cast<double>(g.budget.count());
        for (const auto cls : g.classes) {
            if (stopping_.load()) {
                return;  // a drain does not wait for a slow cluster
            }
            const std::string& topic = config_.topics.for_class(cls);
            const std::string labels =
                fmt::format("{}group=\"{}\",event_class=\"{}\"", tenant_label_, g.group, ocpp::event_class_name(cls));
            const std::string records_name = fmt::format("ocpp_consumer_lag_records{{{}}}", labels);
            const std::string seconds_name = fmt::format("ocpp_consumer_lag_seconds{{{}}}", labels);
            auto lags = consumer.group_lag(g.group, {topic}, 3s);
            if (!lags.ok()) {
                ++errors_;
                log::warn("consumer lag of group {} on {} not measured: {}", g.group, topic,
                          lags.error().to_string());
                keep_previous(records_name);
                keep_previous(seconds_name);
                continue;
            }
            const std::int64_t now = kafka_bridge::unix_now_ms();
            std::int64_t records = 0;
            double seconds = 0;
            bool age_known = true;
            for (const auto& p : lags.value()) {
                records += p.records;
                if (p.records > 0 && p.oldest_unconsumed_ms >= 0) {
                    seconds = std::max(seconds, static_cast<double>(now - p.oldest_unconsumed_ms) / 1000.0);
                } else if (p.records > 0) {
                    age_known = false;  // behind, but its oldest unread record was not read in time
                }
            }
            values[records_name] = static_cast<double>(records);
            if (age_known) {
                values[seconds_name] = seconds;
            } else {
                ++errors_;
                log::warn("consumer lag of group {} on {}: {} records behind, the age of the oldest "
                          "not read in time", g.group, topic, records);
                keep_previous(seconds_name);
            }
        }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    values_ = std::move(values);
}

void LagMonitor::gauges(std::map<std::string, double>& out) const {
    if (config_.lag.groups.empty()) {
        return;
    }
    const std::string labels =
        tenant_label_.empty() ? std::string() : "{" + tenant_label_.substr(0, tenant_label_.size() - 1) + "}";
    out["ocpp_consumer_lag_errors_total" + labels] = static_cast<double>(errors_.load());
    std::lock_guard<std::mutex> lock(mutex_);
    out["ocpp_consumer_lag_measuring" + labels] = measuring_.load() ? 1 : 0;
    for (const auto& [name, value] : values_) {
        out[name] = value;
    }
}

}  // namespace gateway::app
