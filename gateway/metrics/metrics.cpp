#include "gateway/metrics/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace gateway::metrics {
namespace {

std::size_t index(ocpp::ProtocolVersion v) { return static_cast<std::size_t>(v); }

constexpr std::string_view kOutcomes[] = {"acknowledged", "answered_early", "rejected", "failed"};

}  // namespace

Metrics::Metrics() {
    for (const auto v : ocpp::kAllVersions) {
        messages_[index(v)] = std::make_unique<OutcomeCounts[]>(ocpp::actions(v).size() + 1);
    }
}

void Metrics::connection_opened(ocpp::ProtocolVersion v) {
    open_[index(v)].fetch_add(1, std::memory_order_relaxed);
    opened_total_[index(v)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::connection_closed(ocpp::ProtocolVersion v) {
    open_[index(v)].fetch_sub(1, std::memory_order_relaxed);
}

std::int64_t Metrics::open_connections() const {
    return open_[0].load(std::memory_order_relaxed) + open_[1].load(std::memory_order_relaxed);
}

void Metrics::handshake_refused(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++handshake_refused_[reason];
}

void Metrics::message(ocpp::ProtocolVersion v, std::string_view action, Outcome outcome) {
    const auto& catalog = ocpp::actions(v);
    const ocpp::ActionInfo* info = ocpp::find_action(v, action);
    const std::size_t row = info != nullptr ? static_cast<std::size_t>(info - catalog.data())
                                            : catalog.size();
    messages_[index(v)][row][static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::validation_failure(ocpp::ProtocolVersion v, const std::string& code) {
    const std::string labels =
        fmt::format("version=\"{}\",code=\"{}\"", ocpp::version_label(v), code);
    std::lock_guard<std::mutex> lock(mutex_);
    ++validation_[labels];
}

void Metrics::dead_letter() { dead_letters_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::backpressure_wait() {
    backpressure_waits_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::unmatched_response() {
    unmatched_responses_.fetch_add(1, std::memory_order_relaxed);
}

template <const std::array<double, 12>& Bounds>
void Metrics::Histogram<Bounds>::observe_us(std::int64_t us) {
    us = std::max<std::int64_t>(us, 0);
    const double seconds = static_cast<double>(us) / 1e6;
    for (std::size_t i = 0; i < Bounds.size(); ++i) {
        if (seconds <= Bounds[i]) {
            buckets[i].fetch_add(1, std::memory_order_relaxed);
        }
    }
    count.fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
}

template <const std::array<double, 12>& Bounds>
void Metrics::Histogram<Bounds>::render(std::string& out, std::string_view name,
                                        std::string_view labels) const {
    // Records land while this is read (a scrape is no snapshot): buckets are kept
    // non-decreasing and within the count read first, as Prometheus expects of a histogram.
    const auto n = count.load(std::memory_order_relaxed);
    const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
    std::uint64_t below = 0;
    for (std::size_t i = 0; i < Bounds.size(); ++i) {
        below = std::min(std::max(below, buckets[i].load(std::memory_order_relaxed)), n);
        out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix, Bounds[i], below);
    }
    out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, n);
    const std::string braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
    out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces,
                       static_cast<double>(sum_us.load(std::memory_order_relaxed)) / 1e6, name,
                       braces, n);
}

void Metrics::event_stored(ocpp::EventClass c, std::int64_t received_ms,
                           std::optional<std::int64_t> station_ms, bool over_budget) {
    const auto i = static_cast<std::size_t>(c);
    receipt_to_ack_[i].observe_us(received_ms * 1000);
    if (station_ms) {
        station_to_ack_[i].observe_us(*station_ms * 1000);
    }
    if (over_budget) {
        over_budget_[i].fetch_add(1, std::memory_order_relaxed);
    }
}

void Metrics::station_clock_off(bool ahead) {
    clock_off_[ahead ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::produce_ack_latency(std::chrono::steady_clock::duration d) { produce_ack_.observe(d); }

void Metrics::ask_answered(std::chrono::steady_clock::duration d) { ask_latency_.observe(d); }

void Metrics::ask_timed_out() { ask_timeouts_.fetch_add(1, std::memory_order_relaxed); }

void Metrics::delivery_failure(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++delivery_failures_[topic];
}

void Metrics::partition_added(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++partitions_added_[topic];
}

void Metrics::immediate_undelivered(ocpp::EventClass c) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++immediate_undelivered_[static_cast<std::size_t>(c)];
}

void Metrics::command_result(std::string_view status) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++command_results_[std::string(status)];
}

void Metrics::decision(std::string_view kind, std::string_view source, std::string_view status) {
    auto labels = fmt::format("kind=\"{}\",source=\"{}\",status=\"{}\"", kind, source, status);
    std::lock_guard<std::mutex> lock(mutex_);
    ++decisions_[labels];
}

void Metrics::tolerance_repair(std::string_view profile, std::string_view rule) {
    auto labels = fmt::format("profile=\"{}\",rule=\"{}\"", profile, rule);
    std::lock_guard<std::mutex> lock(mutex_);
    ++tolerance_repairs_[labels];
}

void Metrics::tolerance_refused(std::string_view profile) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++tolerance_refused_[std::string(profile)];
}

namespace {

/// A station-given string as a label value: printable ASCII other than `"` and `\\` (others
/// become `_`), at most 64 bytes; "unknown" when empty.
std::string label_value(std::string_view text) {
    if (text.empty()) {
        return "unknown";
    }
    std::string out;
    for (const char c : text.substr(0, 64)) {
        out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '_');
    }
    return out;
}

}  // namespace

void Metrics::schema_violation(std::string_view vendor, std::string_view model, std::string_view kind) {
    std::string v = label_value(vendor);
    std::string m = label_value(model);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string pair = v + '\n' + m;
    if (violation_models_.count(pair) == 0) {
        if (violation_models_.size() >= kMaxModels) {
            v = "other";
            m = "other";
        } else {
            violation_models_.insert(pair);
        }
    }
    ++schema_violations_[fmt::format("vendor=\"{}\",model=\"{}\",kind=\"{}\"", v, m, kind)];
}

void Metrics::command_duplicate() { ++command_duplicates_; }

void Metrics::command_unusable() { ++commands_unusable_; }

void Metrics::command_id_reused() { ++command_ids_reused_; }

void Metrics::command_ids_forgotten_early(std::uint64_t count) { command_ids_forgotten_early_ += count; }

void Metrics::command_result_withheld() { ++command_results_withheld_; }

std::string Metrics::render(const std::map<std::string, double>& gauges) const {
    std::string out;
    auto header = [&out](std::string_view name, std::string_view type, std::string_view help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    header("ocpp_connections", "gauge", "Open station connections by OCPP version.");
    header("ocpp_connections_opened_total", "counter", "Station connections accepted.");
    for (const auto v : ocpp::kAllVersions) {
        out += fmt::format("ocpp_connections{{version=\"{}\"}} {}\n", ocpp::version_label(v),
                           open_[index(v)].load(std::memory_order_relaxed));
        out += fmt::format("ocpp_connections_opened_total{{version=\"{}\"}} {}\n",
                           ocpp::version_label(v),
                           opened_total_[index(v)].load(std::memory_order_relaxed));
    }
    header("ocpp_dead_letters_total", "counter", "Frames refused and written to the dead-letter topic.");
    out += fmt::format("ocpp_dead_letters_total {}\n", dead_letters_.load());
    header("ocpp_backpressure_waits_total", "counter",
           "Times a station's record was refused for now and waits to be offered again: the "
           "producer queue is full, or the producer is being replaced after a fatal error.");
    out += fmt::format("ocpp_backpressure_waits_total {}\n", backpressure_waits_.load());
    header("ocpp_unmatched_responses_total", "counter",
           "CALLRESULT/CALLERROR frames from stations that answered nothing outstanding.");
    out += fmt::format("ocpp_unmatched_responses_total {}\n", unmatched_responses_.load());

    header("ocpp_command_duplicates_total", "counter",
           "Command records with an already taken commandId (not delivered again).");
    out += fmt::format("ocpp_command_duplicates_total {}\n", command_duplicates_.load());
    header("ocpp_commands_unusable_total", "counter",
           "Command records without a usable commandId (sent to the dead-letter topic).");
    out += fmt::format("ocpp_commands_unusable_total {}\n", commands_unusable_.load());
    header("ocpp_command_ids_reused_total", "counter",
           "Command records reusing a commandId taken for another station or action (sent to "
           "the dead-letter topic, no result).");
    out += fmt::format("ocpp_command_ids_reused_total {}\n", command_ids_reused_.load());
    header("ocpp_command_ids_forgotten_early_total", "counter",
           "Command ids forgotten before their 25 h were over because this instance remembers "
           "no more (a repeat of one would be carried out again); counted every 5 s.");
    out += fmt::format("ocpp_command_ids_forgotten_early_total {}\n",
                       command_ids_forgotten_early_.load());
    header("ocpp_command_results_withheld_total", "counter",
           "Results not written: another instance had ended the command while this one was cut "
           "off from Kafka.");
    out += fmt::format("ocpp_command_results_withheld_total {}\n",
                       command_results_withheld_.load());

    std::lock_guard<std::mutex> lock(mutex_);
    header("ocpp_command_results_total", "counter", "Command results written by this instance, by status.");
    for (const auto& [status, n] : command_results_) {
        out += fmt::format("ocpp_command_results_total{{status=\"{}\"}} {}\n", status, n);
    }
    header("ocpp_decisions_total", "counter",
           "Answers carrying the operator's decision, by kind (authorization, boot), source and status.");
    for (const auto& [labels, n] : decisions_) {
        out += fmt::format("ocpp_decisions_total{{{}}} {}\n", labels, n);
    }
    header("ocpp_tolerance_repairs_total", "counter",
           "Repairs made to station messages accepted under a tolerance profile, by profile and rule.");
    for (const auto& [labels, n] : tolerance_repairs_) {
        out += fmt::format("ocpp_tolerance_repairs_total{{{}}} {}\n", labels, n);
    }
    header("ocpp_tolerance_refused_total", "counter",
           "Station messages refused although a tolerance profile applied: its repairs were not enough.");
    for (const auto& [profile, n] : tolerance_refused_) {
        out += fmt::format("ocpp_tolerance_refused_total{{profile=\"{}\"}} {}\n", profile, n);
    }
    header("ocpp_schema_violations_total", "counter",
           "Station messages refused for their schema, by station vendor and model (BootNotification) "
           "and the repair that would apply (\"unrepairable\": none would make it valid).");
    for (const auto& [labels, n] : schema_violations_) {
        out += fmt::format("ocpp_schema_violations_total{{{}}} {}\n", labels, n);
    }
    header("ocpp_handshakes_refused_total", "counter", "WebSocket upgrades refused, by reason.");
    for (const auto& [reason, n] : handshake_refused_) {
        out += fmt::format("ocpp_handshakes_refused_total{{reason=\"{}\"}} {}\n", reason, n);
    }
    header("ocpp_messages_total", "counter", "Station CALLs by version, action and outcome.");
    for (const auto v : ocpp::kAllVersions) {
        const auto& catalog = ocpp::actions(v);
        for (std::size_t row = 0; row <= catalog.size(); ++row) {
            const std::string_view action = row < catalog.size() ? catalog[row].name : "unknown";
            for (std::size_t o = 0; o < std::size(kOutcomes); ++o) {
                const auto n = messages_[index(v)][row][o].load(std::memory_order_relaxed);
                if (n > 0) {
                    out += fmt::format(
                        "ocpp_messages_total{{version=\"{}\",action=\"{}\",outcome=\"{}\"}} {}\n",
                        ocpp::version_label(v), action, kOutcomes[o], n);
                }
            }
        }
    }
    header("ocpp_validation_failures_total", "counter", "CALLERRORs sent, by version and code.");
    for (const auto& [labels, n] : validation_) {
        out += fmt::format("ocpp_validation_failures_total{{{}}} {}\n", labels, n);
    }
    header("ocpp_kafka_delivery_failures_total", "counter", "Records Kafka did not acknowledge.");
    for (const auto& [topic, n] : delivery_failures_) {
        out += fmt::format("ocpp_kafka_delivery_failures_total{{topic=\"{}\"}} {}\n", topic, n);
    }
    header("ocpp_kafka_partitions_added_total", "counter",
           "Partitions that appeared in a topic the gateway reads as a table, while running.");
    for (const auto& [topic, n] : partitions_added_) {
        out += fmt::format("ocpp_kafka_partitions_added_total{{topic=\"{}\"}} {}\n", topic, n);
    }
    header("ocpp_immediate_undelivered_total", "counter",
           "Events answered before the ack (immediate mode) that Kafka then did not take.");
    for (std::size_t i = 0; i < immediate_undelivered_.size(); ++i) {
        out += fmt::format("ocpp_immediate_undelivered_total{{event_class=\"{}\"}} {}\n",
                           ocpp::event_class_name(static_cast<ocpp::EventClass>(i)),
                           immediate_undelivered_[i]);
    }
    header("ocpp_produce_ack_seconds", "histogram", "Time from produce to Kafka acknowledgement.");
    produce_ack_.render(out, "ocpp_produce_ack_seconds");
    header("ocpp_event_receipt_to_ack_seconds", "histogram",
           "Station events: from receipt by the gateway to the Kafka acknowledgement, by event class.");
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        receipt_to_ack_[i].render(out, "ocpp_event_receipt_to_ack_seconds",
                                  fmt::format("event_class=\"{}\"", ocpp::event_class_name(static_cast<ocpp::EventClass>(i))));
    }
    header("ocpp_event_freshness_seconds", "histogram",
           "Station events with a timestamp of their own: from that moment to the Kafka acknowledgement, by event class.");
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        station_to_ack_[i].render(out, "ocpp_event_freshness_seconds",
                                  fmt::format("event_class=\"{}\"", ocpp::event_class_name(static_cast<ocpp::EventClass>(i))));
    }
    header("ocpp_events_over_freshness_budget_total", "counter",
           "Station events that reached Kafka later after their own timestamp than the class's freshness budget.");
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        out += fmt::format("ocpp_events_over_freshness_budget_total{{event_class=\"{}\"}} {}\n",
                           ocpp::event_class_name(static_cast<ocpp::EventClass>(i)),
                           over_budget_[i].load(std::memory_order_relaxed));
    }
    header("ocpp_station_clock_off_total", "counter",
           "Station events whose timestamp was further ahead of or behind the gateway's clock than tolerated.");
    out += fmt::format("ocpp_station_clock_off_total{{direction=\"ahead\"}} {}\n", clock_off_[0].load(std::memory_order_relaxed));
    out += fmt::format("ocpp_station_clock_off_total{{direction=\"behind\"}} {}\n", clock_off_[1].load(std::memory_order_relaxed));
    header("ocpp_ask_seconds", "histogram",
           "Ask mode: time from a token question to the operator's decision (answered ones).");
    ask_latency_.render(out, "ocpp_ask_seconds");
    header("ocpp_ask_timeouts_total", "counter",
           "Ask mode: questions without a decision by the deadline (answered from the table or policy).");
    out += fmt::format("ocpp_ask_timeouts_total {}\n", ask_timeouts_.load(std::memory_order_relaxed));
    for (const auto& [name_and_labels, value] : gauges) {
        out += fmt::format("{} {}\n", name_and_labels, value);
    }
    return out;
}

}  // namespace gateway::metrics
