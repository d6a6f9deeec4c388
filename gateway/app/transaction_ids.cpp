#include "gateway/app/transaction_ids.hpp"

#include <algorithm>
#include <cstdint>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "gateway/session/transaction_id_guard.hpp"
#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/record_json.hpp"

namespace gateway::app {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Start = kafka_bridge::Consumer::Start;
using Consumer = kafka_bridge::Consumer;

/// Records queued before their delivery is waited for.
constexpr std::int64_t kBatch = 10'000;  // the stations' records share the producer's queue

ocpp::Result<std::unique_ptr<Consumer>, std::string> consumer_of(const config::Config& config) {
    kafka_bridge::ConsumerConfig settings = config::consumer_config(config);
    settings.log = [](int, const char*, const char*) {};  // its errors come back as results
    auto created = Consumer::create(settings);
    if (!created.ok()) {
        return created.error().to_string();
    }
    return std::move(created).value();
}

/// Why the transaction topic could not be read; `refused`: by the cluster's authorization.
struct Unread {
    std::string problem;
    bool refused = false;
};

Unread unread(const kafka_bridge::Error& error) { return Unread{error.to_string(), error.is_authorization()}; }

/// The largest 1.6 id the gateway gave in the last kTransactionTail records of each partition
/// of `topic` into `highest`; why it could not, if so.
std::optional<Unread> read_highest_id(const config::Config& config, const std::string& topic,
                                      const TransactionIdOptions& options, std::int64_t& highest) {
    auto created = consumer_of(config);
    if (!created.ok()) {
        return Unread{created.error()};
    }
    Consumer& consumer = *created.value();
    auto marks = consumer.assign_all({{topic, Start::last}}, options.timeout, kTransactionTail);
    if (!marks.ok()) {
        return unread(marks.error());
    }
    kafka_bridge::ReadToEnd behind(marks.value());
    const auto deadline = Clock::now() + options.timeout;
    while (!behind.done()) {
        if (Clock::now() >= deadline || options.stopping()) {
            const auto last = consumer.last_error();
            Unread why{fmt::format("{}: {} partition(s) not read to their end in {} ms{}", topic,
                                   behind.behind(), options.timeout.count(),
                                   last ? ": " + last->to_string() : std::string())};
            why.refused = last && last->is_authorization();
            return why;
        }
        const auto message = consumer.poll(100ms);
        if (message && message->value) {
            if (auto record = kafka_bridge::read_record_json(*message->value); record.ok()) {
                highest = std::max(highest, v16_transaction_id(record.value()).value_or(0));
            }
        }
        behind.after_poll(consumer, message ? &*message : nullptr);
    }
    consumer.close();
    return std::nullopt;
}

/// Delivery reports of the records written to move the topic on.
struct Reports {
    std::mutex mutex;
    std::condition_variable changed;
    std::int64_t delivered = 0;
    std::int64_t failed = 0;

    /// Delivered and failed.
    std::pair<std::int64_t, std::int64_t> count() {
        std::lock_guard<std::mutex> lock(mutex);
        return {delivered, failed};
    }
};

/// Waits until `count` records of `reports` are reported: served by another thread, or by
/// polling `producer` here. False after `timeout` without a report, or when stopping.
bool wait_for_reports(Reports& reports, std::int64_t count, kafka_bridge::Producer& producer,
                      const TransactionIdOptions& options) {
    std::int64_t seen = -1;
    auto deadline = Clock::now() + options.timeout;
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(reports.mutex);
            if (reports.delivered >= count) {
                return true;
            }
            if (reports.delivered != seen) {  // progress: the timeout counts from here
                seen = reports.delivered;
                deadline = Clock::now() + options.timeout;
            }
            if (options.reports_served_elsewhere) {
                reports.changed.wait_for(lock, 200ms);
            }
        }
        if (Clock::now() >= deadline || options.stopping()) {
            return false;
        }
        if (!options.reports_served_elsewhere) {
            producer.poll(100ms);
        }
    }
}

}  // namespace

std::optional<std::int64_t> v16_transaction_id(const json& record) {
    if (!record.is_object() || record.value("ocppVersion", json()) != "1.6" ||
        record.value("action", json()) != "StartTransaction") {
        return std::nullopt;
    }
    const auto reply = record.find("reply");
    if (reply == record.end() || !reply->is_object()) {
        return std::nullopt;
    }
    const auto id = reply->find("transactionId");
    if (id == reply->end() || !id->is_number()) {
        return std::nullopt;
    }
    // Draft-07 integers may be written 42.0 (docs/contract.md).
    const double d = id->get<double>();
    if (d < 1 || d > 2147483647.0 || d != static_cast<double>(static_cast<std::int64_t>(d))) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(d);
}

ocpp::Result<TransactionIdCheck, std::string> keep_transaction_ids_ahead(
    const config::Config& config, kafka_bridge::Producer& producer, const TransactionIdOptions& options) {
    const std::string& ids = config.topics.transaction_ids;
    const std::string& transactions =
        config.topics.by_class[static_cast<std::size_t>(ocpp::EventClass::transaction)];
    auto created = consumer_of(config);
    if (!created.ok()) {
        return created.error();
    }
    Consumer& consumer = *created.value();
    auto marks = consumer.assign_all({{ids, Start::end}}, options.timeout);
    if (!marks.ok()) {
        return marks.error().to_string();
    }
    if (marks.value().size() != 1 || marks.value().begin()->first.second != 0) {
        return fmt::format("{} has {} partitions: transaction ids need exactly one", ids, marks.value().size());
    }
    TransactionIdCheck check;
    check.end = marks.value().begin()->second.second;
    if (const auto why = read_highest_id(config, transactions, options, check.highest_found)) {
        // Refused by the cluster's ACLs, the topic is held against the floor alone; any other
        // failure (a slow or missing topic) is one: the check is made again.
        if (!why->refused) {
            return why->problem;
        }
        check.unread = why->problem;
        if (options.floor == 0) {
            return check;  // nothing to hold the topic against
        }
    }
    const std::int64_t known = std::max(check.highest_found, options.floor);
    if (check.end >= known) {
        return check;
    }
    // Behind: the topic was created again. Every id up to the target is skipped.
    const std::int64_t target = known + session::TransactionIdGuard::kMargin;
    if (target >= INT32_MAX || target - check.end > kMaxTransactionIdSkip) {
        return fmt::format("{} ends at offset {}, behind transaction id {}: moving it past {} "
                           "would take more than {} records or pass 2^31 - 1, the largest id a "
                           "1.6 station takes",
                           ids, check.end, known, target, kMaxTransactionIdSkip);
    }
    const std::string value =
        json{{"skip", "moves 1.6 transaction ids past those already given"}, {"past", known}}.dump();
    auto reports = std::make_shared<Reports>();
    const kafka_bridge::DeliveryCallback on_delivery = [reports](const kafka_bridge::Delivery& d) {
        {
            std::lock_guard<std::mutex> lock(reports->mutex);
            ++reports->delivered;
            reports->failed += d.ok() ? 0 : 1;
        }
        reports->changed.notify_all();
    };
    const std::int64_t wanted = target - check.end;
    std::int64_t queued = 0;
    while (queued < wanted) {
        auto result = producer.produce(kafka_bridge::Record{ids, config.gateway_id, value, {}}, on_delivery);
        if (result.ok()) {
            ++queued;
            if (queued % kBatch != 0) {
                continue;
            }
        } else if (!result.error().is_backpressure()) {
            return fmt::format("writing to {}: {}", ids, result.error().to_string());
        }
        // A batch queued, or the queue full: wait for what is queued.
        if (!wait_for_reports(*reports, queued, producer, options)) {
            return fmt::format("writing to {}: {} of {} records written", ids, reports->count().first, wanted);
        }
    }
    if (!wait_for_reports(*reports, queued, producer, options)) {
        return fmt::format("writing to {}: {} of {} records written", ids, reports->count().first, wanted);
    }
    if (const auto failed = reports->count().second; failed > 0) {
        return fmt::format("writing to {}: {} records not acknowledged", ids, failed);
    }
    // The topic itself says where it stands now (other instances may have written too).
    auto ends = consumer.end_offsets(ids, options.timeout);
    if (!ends.ok()) {
        return ends.error().to_string();
    }
    const std::int64_t before = check.end;
    const auto partition0 = ends.value().find(0);
    check.end = partition0 == ends.value().end() ? 0 : partition0->second;
    check.advanced = wanted;
    consumer.close();
    if (check.end < known) {
        return fmt::format("{} still ends at offset {}, behind transaction id {} (from {})", ids,
                           check.end, known, before);
    }
    return check;
}

}  // namespace gateway::app
