#include "gateway/app/topics_command.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "gateway/app/kafka_readiness.hpp"
#include "gateway/app/transaction_ids.hpp"
#include "kafka_bridge/producer.hpp"
#include "kafka_bridge/topic_plan.hpp"

namespace gateway::app {
namespace {

using namespace std::chrono_literals;
using kafka_bridge::TopicChange;
using kafka_bridge::TopicPlan;

constexpr auto kTimeout = 15s;

void print_plan(const TopicPlan& plan, std::size_t wanted, std::FILE* out) {
    for (const auto& change : plan.changes) {
        fmt::print(out, "{} {}\n", change.kind == TopicChange::Kind::create ? "+" : "~",
                   change.describe());
    }
    for (const auto& problem : plan.problems) {
        fmt::print(out, "! {}\n", problem);
    }
    fmt::print(out, "{} of {} topics meet the contract; {} change(s) for `topics apply`, {} "
                    "difference(s) it cannot fix\n",
               plan.met.size(), wanted, plan.changes.size(), plan.problems.size());
}

/// Carries out `plan`'s changes in order; prints each. Returns the failures.
std::size_t apply(kafka_bridge::Producer& producer, const TopicPlan& plan, std::FILE* out,
                  std::FILE* err) {
    std::size_t failures = 0;
    auto report = [&](const TopicChange& change, const kafka_bridge::Result<kafka_bridge::Ok,
                                                                           kafka_bridge::Error>& r) {
        if (r.ok()) {
            fmt::print(out, "done: {}\n", change.describe());
        } else {
            ++failures;
            fmt::print(err, "failed: {}: {}\n", change.describe(), r.error().to_string());
        }
    };
    for (const auto& change : plan.changes) {
        switch (change.kind) {
            case TopicChange::Kind::create:
                report(change, producer.ensure_topics({change.spec}, kTimeout));
                break;
            case TopicChange::Kind::add_partitions:
                report(change, producer.add_partitions(change.topic, std::stoi(change.to), kTimeout));
                break;
            case TopicChange::Kind::set_config:
                report(change, producer.set_topic_configs(change.topic, {{change.key, change.to}},
                                                          kTimeout));
                break;
        }
    }
    return failures;
}

/// After `apply`: each transaction-id topic of the cluster past the transaction ids already
/// given (transaction_ids.hpp), moved on where it is not. Returns the failures.
std::size_t keep_ids_ahead(kafka_bridge::Producer& producer, const std::vector<config::Config>& numbering,
                           std::FILE* out, std::FILE* err) {
    std::size_t failures = 0;
    for (const auto& c : numbering) {
        const auto& transactions = c.topics.by_class[static_cast<std::size_t>(ocpp::EventClass::transaction)];
        TransactionIdOptions options;
        options.timeout = kTimeout;
        auto checked = keep_transaction_ids_ahead(c, producer, options);
        if (checked.ok() && !checked.value().unread.empty()) {
            // An account that may not read the transaction topic (ACLs): nothing to check.
            fmt::print(err, "warning: {} not checked against the transaction ids given: cannot "
                            "read {}: {}\n",
                       c.topics.transaction_ids, transactions, checked.value().unread);
        } else if (!checked.ok()) {
            ++failures;
            fmt::print(err, "failed: checking {} against the transaction ids on {}: {}\n",
                       c.topics.transaction_ids, transactions, checked.error());
        } else if (checked.value().advanced > 0) {
            fmt::print(out, "done: {} was behind transaction id {} on {} (created again): moved on "
                            "by {} records, ids go on after {}\n",
                       c.topics.transaction_ids, checked.value().highest_found, transactions,
                       checked.value().advanced, checked.value().end);
        } else {
            fmt::print(out, "{} (at {}) is past the transaction ids on {} (highest {})\n",
                       c.topics.transaction_ids, checked.value().end, transactions,
                       checked.value().highest_found);
        }
    }
    return failures;
}

/// run_topics_command on one cluster; `numbering`: the configurations whose transaction-id
/// topics it holds.
int run_on_cluster(const config::Config& config, const std::vector<config::Config>& numbering,
                   const std::string& verb, std::FILE* out, std::FILE* err) {
    kafka_bridge::ProducerConfig settings = config.kafka;
    // librdkafka's own lines only when they say something is wrong.
    settings.log = [err](int level, const char* facility, const char* message) {
        if (level <= 3) {
            fmt::print(err, "librdkafka {}: {}\n", facility, message);
        }
    };
    auto created = kafka_bridge::Producer::create(settings);
    if (!created.ok()) {
        fmt::print(err, "ocpp-gateway topics: {}\n", created.error().to_string());
        return 2;
    }
    auto& producer = *created.value();
    const auto brokers = producer.broker_count(kTimeout);
    if (!brokers.ok()) {
        fmt::print(err, "ocpp-gateway topics: cannot reach Kafka at {}: {}\n",
                   config.kafka.brokers, brokers.error().to_string());
        return 2;
    }
    const auto topics = required_topics(config, durability_target(config, brokers.value()));
    if (const auto bad = unwritable(topics)) {
        fmt::print(err, "ocpp-gateway topics: {}\n", *bad);
        return 2;
    }
    std::vector<std::string> names;
    for (const auto& t : topics) {
        names.push_back(t.name);
    }
    auto observe = [&]() -> std::optional<TopicPlan> {
        auto observed = producer.observe_topics(names, kTimeout);
        if (!observed.ok()) {
            fmt::print(err, "ocpp-gateway topics: cannot read the topics: {}\n",
                       observed.error().to_string());
            return std::nullopt;
        }
        return kafka_bridge::plan_topics(topics, observed.value());
    };
    auto plan = observe();
    if (!plan) {
        return 2;
    }
    if (verb != "apply") {
        print_plan(*plan, topics.size(), out);
        return verb == "check" && !plan->meets() ? 1 : 0;
    }
    if (apply(producer, *plan, out, err) > 0) {
        return 2;
    }
    // Brokers apply created topics and changed configs from the metadata log a moment after
    // the controller answered: ask again until they show, for a few seconds.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        plan = observe();
        if (!plan) {
            return 2;
        }
        if (plan->changes.empty()) {
            break;
        }
        std::this_thread::sleep_for(200ms);  // a command-line tool polling a remote state
    } while (std::chrono::steady_clock::now() < deadline);
    print_plan(*plan, topics.size(), out);
    if (!plan->meets()) {
        // A transaction-id topic that is not as the contract says (several partitions) cannot
        // be checked; the differences above come first.
        fmt::print(out, "transaction ids not checked: the topics do not meet the contract\n");
        return 1;
    }
    return keep_ids_ahead(producer, numbering, out, err) > 0 ? 2 : 0;
}

}  // namespace

int run_topics_command(const config::Config& config, const std::string& verb, std::FILE* out,
                       std::FILE* err) {
    const auto all = clusters(config);
    int code = 0;
    for (const auto& cluster : all) {
        if (all.size() > 1) {
            fmt::print(out, "{}Kafka at {}{}:\n", &cluster == &all.front() ? "" : "\n",
                       cluster.config.kafka.brokers,
                       cluster.tenant.empty() ? std::string() : " (tenant " + cluster.tenant + ")");
        }
        std::vector<config::Config> numbering;
        if (!cluster.tenant.empty() || config.tenants.empty()) {
            numbering.push_back(cluster.config);
        } else {
            for (const auto& tenant : config.tenants) {
                if (!config::has_own_cluster(config, tenant)) {
                    numbering.push_back(config::tenant_config(config, tenant));
                }
            }
        }
        code = std::max(code, run_on_cluster(cluster.config, numbering, verb, out, err));
    }
    return code;
}

}  // namespace gateway::app
