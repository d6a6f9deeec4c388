#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "kafka_bridge/producer.hpp"

namespace gateway::app {

/// OCPP 1.6 transaction ids are the offsets of the transaction-id topic plus one (README,
/// "OCPP 1.6 transaction ids"). That topic deleted and created again starts at offset 0, and
/// its ids would repeat those stations and billing already hold. So before an instance
/// numbers, when it was given an id it gave before (session::TransactionIdGuard), and in
/// `topics apply`, the topic is checked against the ids the gateway gave on the transaction
/// topic (kept 90 days): when its end is not past the largest found there, records are
/// written to it until it is, with a margin.

/// The 1.6 transaction id the gateway gave in a record of the transaction topic: a
/// StartTransaction's answer. Nothing for any other record (a StopTransaction's id is the
/// station's word, which may be anything).
std::optional<std::int64_t> v16_transaction_id(const nlohmann::json& record);

/// Records read from the end of each partition of the transaction topic.
constexpr std::int64_t kTransactionTail = 2'000;
/// At most this many records are written to move the topic on (the ids 1.6 stations take end
/// at 2^31 - 1).
constexpr std::int64_t kMaxTransactionIdSkip = 100'000'000;

struct TransactionIdCheck {
    /// The transaction-id topic's end offset afterwards: every id up to it may have been given.
    std::int64_t end = 0;
    /// The largest 1.6 transaction id in the transaction topic's last records (0: none).
    std::int64_t highest_found = 0;
    /// Records written to move the topic on (0: it was past already).
    std::int64_t advanced = 0;
    /// Why the cluster's authorization refused reading the transaction topic: the topic was
    /// held against the floor alone (no floor: it was not checked). Any other read failure
    /// fails the check.
    std::string unread;
};

struct TransactionIdOptions {
    /// For each read and each batch of records written.
    std::chrono::milliseconds timeout{15'000};
    /// Ids up to this one may have been given (an instance's own knowledge, 0: none).
    std::int64_t floor = 0;
    /// Another thread serves the producer's delivery reports (the gateway's poller or I/O
    /// thread): waited for, never served here. Otherwise this call polls the producer.
    bool reports_served_elsewhere = false;
    /// Checked while reading and writing: true ends the call with a failure.
    std::function<bool()> stopping = [] { return false; };
};

/// Checks `config`'s transaction-id topic against its transaction topic and `options.floor`,
/// and moves it on when it is behind, with `producer`. The problem in words when the
/// transaction-id topic cannot be read or the records not written.
ocpp::Result<TransactionIdCheck, std::string> keep_transaction_ids_ahead(
    const config::Config& config, kafka_bridge::Producer& producer, const TransactionIdOptions& options);

}  // namespace gateway::app
