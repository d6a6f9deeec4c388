#include "gateway/app/transaction_ids.hpp"

#include <atomic>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/record_json.hpp"

namespace gateway::app {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Start = kafka_bridge::Consumer::Start;

/// Filler records queued before their delivery is waited for.
constexpr std::int64_t kFillerBatch = 50'000;

std::optional<std::int64_t> integer_at(const json& record, const char* object, const char* field) {
    const auto o = record.find(object);
    if (o == record.end() || !o->is_object()) {
        return std::nullopt;
    }
    const auto v = o->find(field);
    if (v == o->end() || !v->is_number()) {
        return std::nullopt;
    }
    // Draft-07 integers may be written 42.0 (docs/contract.md).
    const double d = v->get<double>();
    if (d < 1 || d > 2147483647.0 || d != static_cast<double>(static_cast<std::int64_t>(d))) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(d);
}

}  // namespace

std::optional<std::int64_t> v16_transaction_id(const json& record) {
    if (!record.is_object() || record.value("ocppVersion", json()) != "1.6") {
        return std::nullopt;
    }
    const json action = record.value("action", json());
    if (action == "StartTransaction") {
        return integer_at(record, "reply", "transactionId");
    }
    if (action == "StopTransaction") {
        return integer_at(record, "payload", "transactionId");
    }
    return std::nullopt;
}

ocpp::Result<TransactionIdCheck, std::string> keep_transaction_ids_ahead(
    const config::Config& config, kafka_bridge::Producer& producer, std::chrono::milliseconds timeout) {
    const std::string& ids = config.topics.transaction_ids;
    const std::string& transactions =
        config.topics.by_class[static_cast<std::size_t>(ocpp::EventClass::transaction)];
    kafka_bridge::ConsumerConfig settings = config::consumer_config(config);
    settings.log = [](int, const char*, const char*) {};  // its errors come back as results
    auto created = kafka_bridge::Consumer::create(settings);
    if (!created.ok()) {
        return created.error().to_string();
    }
    auto& consumer = *created.value();
    auto marks = consumer.assign_all({{transactions, Start::last}, {ids, Start::end}}, timeout,
                                     kTransactionTail);
    if (!marks.ok()) {
        return marks.error().to_string();
    }
    TransactionIdCheck check;
    std::map<std::int32_t, std::int64_t> remaining;  // partition of `transactions` → its end
    for (const auto& [partition, mark] : marks.value()) {
        if (partition.first == ids) {
            check.end = std::max(check.end, mark.second);
        } else if (mark.second > mark.first) {
            remaining[partition.second] = mark.second;
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!remaining.empty()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            const auto last = consumer.last_error();
            return fmt::format("{}: {} partition(s) not read to their end in {} ms{}", transactions,
                               remaining.size(), timeout.count(),
                               last ? ": " + last->to_string() : std::string());
        }
        const auto message = consumer.poll(100ms);
        if (!message || message->topic != transactions) {
            continue;
        }
        if (message->value) {
            if (auto record = kafka_bridge::read_record_json(*message->value); record.ok()) {
                check.highest_found = std::max(check.highest_found, v16_transaction_id(record.value()).value_or(0));
            }
        }
        const auto it = remaining.find(message->partition);
        if (it != remaining.end() && message->offset + 1 >= it->second) {
            remaining.erase(it);
        }
    }
    if (check.end >= check.highest_found) {
        consumer.close();
        return check;
    }
    // Behind: the topic was created again. Every id up to the target is skipped.
    const std::int64_t target = check.highest_found + kTransactionIdMargin;
    const std::string value =
        json{{"skip", "moves 1.6 transaction ids past those already given"},
             {"highestFound", check.highest_found}}
            .dump();
    auto failed = std::make_shared<std::atomic<std::int64_t>>(0);
    const kafka_bridge::DeliveryCallback on_delivery = [failed](const kafka_bridge::Delivery& d) {
        if (!d.ok()) {
            failed->fetch_add(1);
        }
    };
    for (std::int64_t queued = 0; queued < target - check.end;) {
        auto result = producer.produce(kafka_bridge::Record{ids, config.gateway_id, value, {}}, on_delivery);
        if (result.ok()) {
            ++queued;
            if (queued % kFillerBatch != 0) {
                continue;
            }
        } else if (!result.error().is_backpressure()) {
            return fmt::format("writing to {}: {}", ids, result.error().to_string());
        }
        // A batch queued, or the queue full: wait for what is queued (`timeout` at most).
        if (auto flushed = producer.flush(timeout); !flushed.ok()) {
            return fmt::format("writing to {}: {}", ids, flushed.error().to_string());
        }
    }
    if (auto flushed = producer.flush(timeout); !flushed.ok()) {
        return fmt::format("writing to {}: {}", ids, flushed.error().to_string());
    }
    if (failed->load() > 0) {
        return fmt::format("writing to {}: {} records not acknowledged", ids, failed->load());
    }
    // The topic itself says where it stands now (other instances may have written too).
    auto ends = consumer.end_offsets(ids, timeout);
    if (!ends.ok()) {
        return ends.error().to_string();
    }
    const std::int64_t before = check.end;
    check.end = ends.value().empty() ? 0 : ends.value().begin()->second;
    check.advanced = target - before;
    consumer.close();
    if (check.end < check.highest_found) {
        return fmt::format("{} still ends at offset {}, behind transaction id {}", ids, check.end,
                           check.highest_found);
    }
    return check;
}

}  // namespace gateway::app
