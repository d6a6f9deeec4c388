#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "gateway/session/transaction_id_guard.hpp"

#include "gateway/config/config.hpp"
#include "gateway/decisions/asks.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/security/events.hpp"
#include "gateway/session/reply_policy.hpp"
#include "gateway/session/tolerance.hpp"
#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway::session {

/// WebSocket close codes a session uses (RFC 6455 section 7.4.1).
enum class CloseCode : std::uint16_t {
    going_away = 1001,        ///< drain, idle, pong timeout
    unsupported_data = 1003,  ///< a binary frame
    policy_violation = 1008,  ///< replaced by a newer connection
};

/// A session's way to its WebSocket connection, whatever the transport (implemented in
/// station/). Thread-safe as the transport's connection is.
class StationLink {
public:
    virtual ~StationLink() = default;
    /// Queues a text frame; the transport's error when the connection cannot take it.
    virtual std::error_code send_text(const std::string& text) = 0;
    /// Bytes of frames queued and not yet taken by the socket (answers, pongs, commands).
    /// On the connection's thread only.
    virtual std::size_t unsent_bytes() const = 0;
    virtual void close(CloseCode code, const std::string& reason) = 0;
    virtual void ping() = 0;
};

class Session;

/// What sessions tell the command machinery (implemented by commands::Router). Thread-safe.
class CommandSink {
public:
    virtual ~CommandSink() = default;
    /// Writes the one result of `command`.
    virtual void finish(const kafka_bridge::Command& command,
                        kafka_bridge::CommandOutcome outcome) = 0;
    /// Commands session `from` took but could not send (its connection ended or is ending):
    /// they go to the station's newer connection, on this instance or another, or end
    /// NotConnected; never back to `from`, which may still be the station's entry here.
    virtual void hand_back(std::vector<kafka_bridge::Command> commands, const Session& from) = 0;
    /// A session opened: its presence is published (and its epoch set from the record).
    virtual void session_opened(const std::shared_ptr<Session>& session) = 0;
    /// A session ended; `superseded`: by a newer connection, which has published its own
    /// presence already.
    virtual void session_closed(const std::shared_ptr<Session>& session, bool superseded) = 0;
    /// The spelling under which the cluster already knows `station_id` (matched without
    /// regard to letter case: its last presence record), if it knows the station.
    virtual std::optional<std::string> known_spelling(const std::string& station_id) const = 0;
};

/// The open sessions of this instance, by station (implemented by the station listener's
/// session table). Thread-safe.
class SessionLookup {
public:
    virtual ~SessionLookup() = default;
    /// The open session of `station_id` (case-insensitive) on this instance, if any.
    virtual std::shared_ptr<Session> find_station(const std::string& station_id) const = 0;
};

/// What sessions share. Lives as long as the listener.
struct Services {
    const config::Config& config;
    const ocpp::SchemaRegistry& schemas;
    kafka_bridge::ProducerSlot& producers;
    metrics::Metrics& metrics;
    ReplyPolicy replies;
    /// Gateway-made security events.
    security::EventSink& security_events;
    /// CALLs published and not yet answered, across sessions (for draining).
    std::atomic<std::int64_t> in_flight{0};
    /// Sessions closed whose Disconnected record is not yet handed to the producer.
    std::atomic<std::int64_t> closing{0};
    /// The command machinery; null when commands are off (tests).
    CommandSink* commands = nullptr;
    /// Ask mode's questions waiting for the operator; null when ask mode is off.
    decisions::AskTable* asks = nullptr;
    /// The tenant these sessions belong to (`config` is its tenant_config()); empty without
    /// tenants.
    std::string tenant{};
    /// WebSocket messages received from these sessions (the tenant's metrics).
    std::atomic<std::uint64_t> messages_received{0};
    /// What each station booted as: its tolerance profile and the per-model refusal counts.
    BootModels boot_models{};
    /// Schema refusals per station model for the periodic report; null: not reported.
    ViolationTally* violations = nullptr;
    /// The 1.6 transaction ids its sessions may give.
    TransactionIdGuard transaction_ids{};
};

}  // namespace gateway::session
