#include "gateway/app/app.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "gateway/metrics/process.hpp"

// App's /metrics page: the gauges it reads from every part, beside the counters the parts keep.
namespace gateway::app {

std::string App::render_metrics() const {
    std::map<std::string, double> gauges;
    const bool built = parts_built_.load();
    gauges["ocpp_starting"] = built ? 0 : 1;
    gauges["ocpp_ready"] = ready() ? 1 : 0;
    const auto exposed = config::unauthenticated_exposures(config_);
    for (const char* listener : {"stations", "admin"}) {
        gauges[fmt::format("ocpp_listener_exposed_without_authentication{{listener=\"{}\"}}", listener)] =
            std::count(exposed.begin(), exposed.end(), listener) > 0 ? 1 : 0;
    }
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        const auto cls = static_cast<ocpp::EventClass>(i);
        for (const auto mode : {config::ReplyMode::after_ack, config::ReplyMode::immediate}) {
            gauges[fmt::format("ocpp_reply_mode{{event_class=\"{}\",mode=\"{}\"}}",
                               ocpp::event_class_name(cls), config::reply_mode_name(mode))] =
                config_.reply.modes[i] == mode ? 1 : 0;
        }
    }
    if (built) {
        part_gauges(gauges);
    }
    std::string out = metrics_.render(gauges);
    if (const auto process = metrics::read_process_stats()) {
        out += metrics::render_process(*process);
    }
    return out;
}

void App::part_gauges(std::map<std::string, double>& gauges) const {
    gauges["ocpp_kafka_queue_depth"] = static_cast<double>(producers_->current()->queue_depth());
    gauges["ocpp_kafka_producer_replacements_total"] = static_cast<double>(producers_->replacements());
    gauges["ocpp_calls_in_flight"] = static_cast<double>(listener_->in_flight());
    double below = 0;
    for (const auto& t : topic_durability_) {
        gauges[fmt::format("ocpp_kafka_topic_replicas{{topic=\"{}\"}}", t.topic)] = t.replication;
        gauges[fmt::format("ocpp_kafka_topic_min_insync_replicas{{topic=\"{}\"}}", t.topic)] =
            t.min_insync;
        below += t.below_target ? 1 : 0;
    }
    gauges["ocpp_kafka_topics_below_durability"] = below;
    double asks_waiting = 0;
    for (const auto& tenant : tenants_) {
        asks_waiting += static_cast<double>(tenant->asks.waiting());
    }
    gauges["ocpp_asks_waiting"] = asks_waiting;
    for (const auto& tenant : tenants_) {
        const std::string labels =
            tenant->name.empty() ? std::string() : fmt::format("{{tenant=\"{}\"}}", tenant->name);
        gauges["ocpp_id_tokens" + labels] = static_cast<double>(tenant->tokens.size());
        gauges["ocpp_id_token_records_skipped_total" + labels] =
            static_cast<double>(tenant->tokens.rejected_records());
        gauges["ocpp_station_registry_records_skipped_total" + labels] =
            static_cast<double>(tenant->skipped_stations.count());
        gauges["ocpp_ask_decisions_skipped_total" + labels] = static_cast<double>(tenant->skipped_decisions.count());
        if (const auto last = tenant->tokens.last_applied()) {
            gauges["ocpp_id_token_last_record_age_seconds" + labels] =
                std::chrono::duration<double>(std::chrono::system_clock::now() - *last).count();
        }
        tenant->lag->gauges(gauges);
        if (tenant->own_producers) {
            gauges["ocpp_tenant_kafka_queue_depth" + labels] =
                static_cast<double>(tenant->own_producers->current()->queue_depth());
            gauges["ocpp_tenant_kafka_reachable" + labels] = tenant->reachable.load() ? 1 : 0;
        }
    }
    if (!config_.tenants.empty()) {
        for (const auto& t : listener_->tenant_stats()) {
            const std::string labels = fmt::format("{{tenant=\"{}\"}}", t.name);
            gauges["ocpp_tenant_stations" + labels] = static_cast<double>(t.stations);
            gauges["ocpp_tenant_messages_received_total" + labels] = static_cast<double>(t.messages);
            gauges["ocpp_tenant_connections_total" + labels] = static_cast<double>(t.connections);
            gauges["ocpp_tenant_handshakes_refused_total" + labels] = static_cast<double>(t.refused);
        }
    }
    for (const auto& [topic, status] : topic_watch_.status()) {
        gauges[fmt::format("ocpp_kafka_topic_missing{{topic=\"{}\"}}", topic)] = status.missing ? 1 : 0;
        gauges[fmt::format("ocpp_kafka_topic_recreated_total{{topic=\"{}\"}}", topic)] =
            static_cast<double>(status.recreated);
        gauges[fmt::format("ocpp_kafka_topic_partitions{{topic=\"{}\"}}", topic)] = status.partitions;
    }
}

}  // namespace gateway::app
