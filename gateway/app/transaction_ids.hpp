#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "kafka_bridge/producer.hpp"

namespace gateway::app {

/// OCPP 1.6 transaction ids are the offsets of the transaction-id topic plus one (README,
/// "OCPP 1.6 transaction ids"). That topic deleted and created again starts at offset 0, and
/// its ids would repeat those stations and billing already hold. So before an instance
/// numbers (and in `topics apply`), the topic is checked against the ids on the transaction
/// topic, kept 90 days: when its end is not past the largest found there, records are written
/// to it until it is, with a margin.

/// The 1.6 transaction id a record of the transaction topic carries (a StartTransaction's
/// answer, a StopTransaction's request); nothing for any other record.
std::optional<std::int64_t> v16_transaction_id(const nlohmann::json& record);

/// Records read from the end of each partition of the transaction topic.
constexpr std::int64_t kTransactionTail = 2'000;
/// How far past the largest id found a topic found behind is moved: ids given while it was
/// read, and those whose records lie further back than kTransactionTail.
constexpr std::int64_t kTransactionIdMargin = 10'000;

struct TransactionIdCheck {
    /// The transaction-id topic's end offset afterwards: every id up to it may have been given.
    std::int64_t end = 0;
    /// The largest 1.6 transaction id in the transaction topic's last records (0: none).
    std::int64_t highest_found = 0;
    /// Records written to move the topic past highest_found (0: it was past already).
    std::int64_t advanced = 0;
};

/// Checks `config`'s transaction-id topic against its transaction topic and moves it on
/// when it is behind, with `producer` (whose delivery reports someone serves, or flush()
/// does). The problem in words when the topics cannot be read or the records not written.
ocpp::Result<TransactionIdCheck, std::string> keep_transaction_ids_ahead(
    const config::Config& config, kafka_bridge::Producer& producer, std::chrono::milliseconds timeout);

}  // namespace gateway::app
