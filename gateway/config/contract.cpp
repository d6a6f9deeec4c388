// The event-class contract's defaults (docs/contract.md): what each topic keeps, and why.
#include "gateway/config/config.hpp"

namespace gateway::config {
namespace {

constexpr long long kDay = 24LL * 60 * 60 * 1000;

TopicContract kept_for(long long days) {
    TopicContract c;
    c.retention_ms = days * kDay;
    c.cleanup_policy = "delete";
    return c;
}

TopicContract table() {
    TopicContract c;
    c.cleanup_policy = "compact";
    return c;
}

}  // namespace

std::map<std::string, TopicContract> default_contract() {
    std::map<std::string, TopicContract> c;
    // Billing data: kept longest, for disputes and for replaying billing after a bug in it.
    c["transaction"] = kept_for(90);
    // Meter readings back the transactions' energy and are replayed with them; a month
    // covers a billing period.
    c["metering"] = kept_for(30);
    // Status only matters as the latest state and a week of history for operations.
    c["status"] = kept_for(7);
    // Liveness only: a day is enough to see when a station went quiet.
    c["heartbeat"] = kept_for(1);
    // Who charged with which card, for audits and fraud questions.
    c["authorization"] = kept_for(30);
    // Security events and firmware/log state: kept like billing data, for incident work.
    c["security"] = kept_for(90);
    c["report"] = kept_for(7);
    c["data-transfer"] = kept_for(7);
    // OCPP 2.1 DER alarms and control reports: a month, for the grid operator's questions.
    c["der"] = kept_for(30);
    // Connects and disconnects: a week of operations history.
    c["connections"] = kept_for(7);
    // Refused frames: a month to find the firmware that sends them and fix or tolerate it.
    c["dead_letter"] = kept_for(30);
    // Commands expire within minutes; their results are the operator's record.
    c["commands"] = kept_for(1);
    c["command_results"] = kept_for(7);
    // Tables read whole at start-up: the last record per key is the entry, kept for ever.
    c["presence"] = table();
    c["stations"] = table();
    c["id_tokens"] = table();
    // Internal: duplicate detection and ask-mode round trips matter for a day.
    c["command_routes"] = kept_for(1);
    c["authorization_requests"] = kept_for(1);
    c["authorization_decisions"] = kept_for(1);
    // Its offsets number OCPP 1.6 transactions: exactly one partition; the records need not
    // be kept, offsets are never reused after retention deletes them.
    c["transaction_ids"] = kept_for(1);
    c["transaction_ids"].partitions = 1;
    // What firmware breaks the schemas, per model: a month, like the dead letters behind it.
    c["violations"] = kept_for(30);
    return c;
}

std::vector<std::pair<std::string, std::string>> topic_roles(const Config& config) {
    std::vector<std::pair<std::string, std::string>> roles;
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        const auto cls = static_cast<ocpp::EventClass>(i);
        roles.emplace_back(std::string(ocpp::event_class_name(cls)), config.topics.for_class(cls));
    }
    const auto& t = config.topics;
    for (const auto& [role, name] : std::vector<std::pair<const char*, const std::string*>>{
             {"connections", &t.connections},
             {"dead_letter", &t.dead_letter},
             {"commands", &t.commands},
             {"command_results", &t.command_results},
             {"presence", &t.presence},
             {"stations", &t.stations},
             {"id_tokens", &t.id_tokens},
             {"command_routes", &t.command_routes},
             {"authorization_requests", &t.authorization_requests},
             {"authorization_decisions", &t.authorization_decisions},
             {"transaction_ids", &t.transaction_ids},
             {"violations", &t.violations},
         }) {
        roles.emplace_back(role, *name);
    }
    return roles;
}

Config tenant_config(const Config& base, const Tenant& tenant) {
    Config c = base;
    c.tenants.clear();
    c.topics.for_each([&tenant](std::string& name) { name = tenant.topic_prefix + name; });
    c.commands.group += "." + tenant.name;
    if (const auto own = base.tenant_brokers.find(tenant.name); own != base.tenant_brokers.end()) {
        c.kafka.brokers = own->second;
        const auto properties = base.tenant_kafka_properties.find(tenant.name);
        c.kafka.properties = properties != base.tenant_kafka_properties.end()
                                 ? properties->second
                                 : std::map<std::string, std::string>{};
        settle_kafka_properties(c.kafka, "tenant_kafka.properties." + tenant.name);
    }
    c.tenant_brokers.clear();
    c.tenant_kafka_properties.clear();
    return c;
}

bool has_own_cluster(const Config& config, const Tenant& tenant) {
    return config.tenant_brokers.count(tenant.name) != 0;
}

}  // namespace gateway::config
