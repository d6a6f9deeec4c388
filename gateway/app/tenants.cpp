#include "gateway/app/app.hpp"

#include <fmt/format.h>

#include "gateway/app/kafka_readiness.hpp"
#include "gateway/app/transaction_ids.hpp"
#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"
#include "kafka_bridge/envelope.hpp"

// The tenants' side of App: a tenant's own Kafka cluster, its command router and the tables it
// follows (station registry, id tokens, authorization decisions).
namespace gateway::app {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

}  // namespace

std::optional<std::string> App::connect_tenant_cluster(Tenant& tenant) {
    tenant.config.kafka.log = log_kafka;
    auto created = kafka_bridge::Producer::create(tenant.config.kafka);
    if (!created.ok()) {
        return "tenant " + tenant.name + ": kafka: " + created.error().message();
    }
    tenant.own_producers = std::make_unique<kafka_bridge::ProducerSlot>(tenant.config.kafka,
                                                                        std::move(created.value()));
    tenant.producers = tenant.own_producers.get();
    kafka_bridge::ProducerSlot& slot = *tenant.own_producers;
    tenant.own_poller.start([&slot, name = tenant.name](const std::atomic<bool>& running) {
        log::name_thread("ocpp-kafka-poll");
        while (running.load()) {
            if (auto error = slot.poll_and_recover(50ms)) {
                log::error("Kafka producer of tenant {} failed ({}); {}", name, error->to_string(),
                           error->is_fatal() ? "replaced it with a new one" : "could not create a new one");
            }
        }
    });
    log::info("tenant {}: connecting to its own Kafka at {}", tenant.name, tenant.config.kafka.brokers);
    std::string problem;
    std::vector<TopicDurabilityReport> durability;
    switch (wait_for_kafka(tenant.config, slot, stop_, problem, durability)) {
        case Readiness::ready:
            topic_durability_.insert(topic_durability_.end(), durability.begin(), durability.end());
            return std::nullopt;
        case Readiness::stopped:
            stopped_early_ = true;
            return std::nullopt;
        case Readiness::unusable:
            break;
    }
    return "tenant " + tenant.name + ": " + problem;
}

std::optional<std::string> App::start_tenant(std::size_t index) {
    Tenant& tenant = *tenants_[index];
    tenant.router = std::make_unique<commands::Router>(tenant.config, *schemas_, *tenant.producers, metrics_,
                                                       listener_->stations_of(index));
    listener_->set_command_sink(index, tenant.router.get());
    tenant.router->follow(tenant.config.topics.stations, [this, &tenant, index](const kafka_bridge::Message& m) {
        if (!m.key) {
            tenant.skipped_stations.warn("station registry record {}:{}@{} skipped: it has no key (the station id)",
                                         m.topic, m.partition, m.offset);
            return;
        }
        if (auto bad = tenant.registry.apply_record(*m.key, m.value, m.partition, m.timestamp_ms)) {
            tenant.skipped_stations.warn("station registry record {}:{}@{} skipped: {}", m.topic, m.partition,
                                         m.offset, *bad);
            return;
        }
        if (config_.reply.boot_trigger_on_approval) {
            trigger_boot_if_approved(tenant, index, *m.key);
        }
    });
    tenant.router->follow(tenant.config.topics.id_tokens,
                          [this, &tenant](const kafka_bridge::Message& m) { apply_token_record(tenant, m); });
    if (config_.reply.ask != config::Config::Reply::Ask::never) {
        tenant.router->follow(
            tenant.config.topics.authorization_decisions,
            [this, &tenant](const kafka_bridge::Message& m) { apply_decision_record(tenant, m); }, true);
    }
    if (auto error = tenant.router->start(60s)) {
        return (tenant.name.empty() ? "commands: " : "tenant " + tenant.name + ": commands: ") + *error;
    }
    commands::Router& router = *tenant.router;
    tenant.lag = std::make_unique<LagMonitor>(
        tenant.config,
        [this, &router] {
            // One instance measures: the live one with the smallest id (this one when alone).
            const auto alive = router.alive_instances();
            return alive.empty() || alive.front() == config_.gateway_id;
        },
        tenant.name);
    return std::nullopt;
}

void App::trigger_boot_if_approved(Tenant& tenant, std::size_t index, const std::string& station_id) {
    const auto entry = tenant.registry.find(station_id);
    const std::string status = entry && !entry->boot_status.empty() ? entry->boot_status
                                                                     : config_.reply.boot_default_status;
    const auto session = listener_->stations_of(index).find_station(station_id);
    if (status != "Accepted" || !session || session->boot_state() != session::Session::BootState::pending) {
        return;
    }
    // Through ocpp.commands like any operator command: routed to this instance, and its
    // result is on ocpp.command-results for the operator to see.
    const std::string command_id = "boot-approved-" + kafka_bridge::new_uuid();
    const nlohmann::json record{{"commandId", command_id},
                                {"stationId", session->station_id()},
                                {"action", "TriggerMessage"},
                                {"payload", {{"requestedMessage", "BootNotification"}}}};
    log::info("station {} approved while Pending: asking it to boot again (command {})",
              session->station_id(), command_id);
    auto problem = tenant.router->submit(record, nullptr, std::chrono::milliseconds(0),
                                         [command_id](std::optional<std::string> error) {
                                             if (error) {
                                                 log::warn("command {} (TriggerMessage BootNotification) not "
                                                           "written: {}; the station boots again at its interval",
                                                           command_id, *error);
                                             }
                                         });
    if (problem) {
        log::warn("command {} (TriggerMessage BootNotification) not queued: {}; the station boots "
                  "again at its interval",
                  command_id, problem->message);
    }
}

void App::apply_decision_record(Tenant& tenant, const kafka_bridge::Message& m) {
    decisions::DecisionRecord decision;
    auto problem = m.value ? decisions::parse_decision(*m.value, decision)
                           : std::optional<std::string>("a tombstone is no decision");
    if (!problem) {
        tenant.asks.answer(decision.request_id, std::move(decision.entry));
        return;
    }
    tenant.skipped_decisions.warn("authorization decision {}:{}@{} skipped: {}", m.topic, m.partition, m.offset,
                                  *problem);
}

void App::apply_token_record(Tenant& tenant, const kafka_bridge::Message& m) {
    auto problem = tenant.tokens.apply_record(m.key.value_or(""), m.value, std::chrono::system_clock::now(),
                                              m.partition, m.timestamp_ms);
    if (!problem) {
        return;
    }
    tenant.skipped_tokens.warn("id-token record {}:{}@{} skipped: {}", m.topic, m.partition, m.offset, *problem);
}

ocpp::Result<TransactionIdCheck, std::string> App::check_transaction_ids(Tenant& tenant,
                                                                        std::int64_t floor) {
    TransactionIdOptions options;
    options.floor = floor;
    options.reports_served_elsewhere = true;  // the poller, or an I/O thread
    options.stopping = [this] { return stop_.wait_for(0ms); };
    auto checked = app::keep_transaction_ids_ahead(tenant.config, *tenant.producers->current(), options);
    if (!checked.ok()) {
        return checked;
    }
    const auto& c = checked.value();
    const auto& topics = tenant.config.topics;
    const auto& transactions = topics.by_class[static_cast<std::size_t>(ocpp::EventClass::transaction)];
    if (c.advanced > 0) {
        log::error("{} ended before transaction id {} (the largest on {}{}): it was created "
                   "again. Moved it on by {} records; 1.6 transaction ids go on after {}",
                   topics.transaction_ids, std::max(c.highest_found, floor), transactions,
                   floor > c.highest_found ? ", or given by this instance" : "", c.advanced, c.end);
    }
    if (!c.unread.empty()) {
        log::warn("{} checked against the ids this instance gave alone ({}): not allowed to read "
                  "{}: {}",
                  topics.transaction_ids, floor, transactions, c.unread);
    }
    return checked;
}

bool App::check_transaction_ids_at_start(Tenant& tenant) {
    const auto& ids = tenant.config.topics.transaction_ids;
    for (int attempt = 1;; ++attempt) {
        auto checked = check_transaction_ids(tenant, 0);
        if (checked.ok()) {
            tenant.transaction_ids_end = checked.value().end;
            return true;
        }
        if (stop_.wait_for(0ms)) {
            return false;
        }
        // A cluster that lets the gateway write the transaction topic but not read it (its
        // ACLs), or one too slow to read it, must not keep the gateway from starting.
        if (attempt == 6) {
            log::error("cannot check {} against the transaction ids already given ({}): starting "
                       "without, and checking again every 5 s; until then, were it created "
                       "again, a 1.6 id given before could be given once more (README, \"OCPP "
                       "1.6 transaction ids\")",
                       ids, checked.error());
            tenant.transaction_ids_due = true;
            return true;
        }
        log::warn("cannot check {} against the transaction ids already given: {}; again in 5 s",
                  ids, checked.error());
        if (stop_.wait_for(5s)) {
            return false;
        }
    }
}

void App::watch_transaction_ids() {
    for (std::size_t i = 0; i < tenants_.size(); ++i) {
        Tenant& tenant = *tenants_[i];
        session::TransactionIdGuard& guard = listener_->transaction_ids(i);
        // The topic gone or created again (a new topic id): no id is given until it is checked.
        const auto& ids = tenant.config.topics.transaction_ids;
        bool gone = false;
        if (auto states = tenant.producers->current()->describe_topics({ids}, 2s); states.ok()) {
            const auto found = states.value().find(ids);
            if (found != states.value().end()) {
                const kafka_bridge::TopicState& now = found->second;
                const bool changed = !now.exists || (!tenant.transaction_ids_topic.empty() &&
                                                     !now.id.empty() && now.id != tenant.transaction_ids_topic);
                if (changed && !guard.suspended()) {
                    log::error("{} {}: no 1.6 transaction id is given until it is checked",
                               ids, now.exists ? "was created again" : "no longer exists");
                    guard.suspend();
                    tenant.transaction_ids_due = true;
                    tenant.transaction_ids_next = {};
                }
                if (now.exists && !now.id.empty()) {
                    tenant.transaction_ids_topic = now.id;
                }
                gone = !now.exists;
            }
        }
        tenant.transaction_ids_due = guard.take_behind() || tenant.transaction_ids_due;
        if (!tenant.transaction_ids_due || gone || Clock::now() < tenant.transaction_ids_next) {
            continue;
        }
        auto checked = check_transaction_ids(tenant, guard.given());
        if (checked.ok()) {
            guard.resume_past(checked.value().end);
            tenant.transaction_ids_due = false;
            continue;
        }
        log::warn("cannot check {} against the transaction ids already given: {}; 1.6 "
                  "StartTransaction is refused until it is, tried again in 5 s",
                  tenant.config.topics.transaction_ids, checked.error());
        tenant.transaction_ids_next = Clock::now() + 5s;
    }
}

}  // namespace gateway::app
