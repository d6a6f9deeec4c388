#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ocpp/actions.hpp"
#include "ocpp/repair.hpp"
#include "ocpp/version.hpp"

namespace kafka_bridge {

/// Where a record comes from: the gateway instance and the station's session.
struct SessionInfo {
    std::string station_id;
    ocpp::ProtocolVersion version;
    std::string gateway_id;
    std::string session_id;
};

/// A station event (schemas/events/station-event.schema.json) as JSON text; `reply_json` is
/// the reply as JSON text (written once, for the record and the CALLRESULT). `decision`, when
/// not null, says where the operator's part of the reply came from (the event's `decision`);
/// `repaired`, when not null, what a tolerance profile changed (the event's `tolerance`).
/// An empty `reply_json` is a 2.1 SEND: no reply, and `messageType` "SEND".
std::string station_event(const SessionInfo& session, std::string_view action,
                          ocpp::EventClass event_class, std::string_view message_id,
                          std::string_view received_at, std::uint64_t sequence,
                          const nlohmann::json& payload, std::string_view reply_json,
                          const nlohmann::json& decision = nullptr,
                          const ocpp::Repaired* repaired = nullptr);

/// Equal for a station's resends of one message, SHA-256 (hex) over:
/// - 2.0.1 TransactionEvent: station id, transactionId and seqNo (a resend with a refreshed
///   timestamp still matches);
/// - payloads that carry their own moment (MeterValues, or a top-level `timestamp`,
///   `generatedAt` or `seqNo`): station id, action and the payload's canonical JSON;
/// - every other payload (Heartbeat, Authorize, BootNotification, DataTransfer, a 1.6
///   StatusNotification without timestamp, ...): the same plus the CALL's message id, since
///   equal content there does not mean the same message. A resend under a new message id
///   gets a new key.
std::string dedup_key(std::string_view station_id, std::string_view action,
                      std::string_view message_id, const nlohmann::json& payload);

struct ConnectionEvent {
    enum class Type : std::uint8_t { connected, disconnected };
    Type type;
    std::string address;
    std::optional<std::string> subprotocol;
    int security_profile = 0;
    // Disconnected only.
    std::string reason;
    int close_code = 0;
    std::int64_t duration_ms = 0;
    std::uint64_t messages = 0;
};

/// A connection event (schemas/events/connection-event.schema.json) as JSON text.
std::string connection_event(const SessionInfo& session, const ConnectionEvent& event,
                             std::string_view at);

struct DeadLetter {
    std::string_view raw;
    std::string reason;
    std::optional<std::string> error_code;  ///< the CALLERROR code sent, if one was
    std::string message_id;
    std::optional<std::string> action;
    /// The tolerance profile whose repairs were not enough; empty: none applied.
    std::string tolerance_profile{};
    /// Vendor, model and firmware from the station's BootNotification, when known.
    std::optional<nlohmann::json> station_model{};
    /// Schema violations: {rules: the repairs that would apply, valid: whether they would
    /// make the payload valid} (README "Tolerance profiles").
    std::optional<nlohmann::json> would_repair{};
};

/// Longest raw frame copied into a dead-letter record.
inline constexpr std::size_t kMaxDeadLetterRaw = 64 * 1024;

/// A dead-letter record (schemas/events/dead-letter.schema.json) as JSON text.
std::string dead_letter(const SessionInfo& session, const DeadLetter& letter,
                        std::string_view received_at);

/// A command record the gateway cannot execute and cannot answer (no usable commandId).
struct CommandLetter {
    std::string_view raw;
    std::string topic;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::optional<std::string> key;
    std::string reason;
};

/// A dead-letter record for a command (`"source": "command"`), as JSON text.
std::string command_dead_letter(const CommandLetter& letter, std::string_view gateway_id,
                                std::string_view received_at);

/// A security event the gateway itself raises (failed authentication, throttling, duplicate
/// identity, limits), written to the security topic with `"source": "gateway"`
/// (schemas/events/security-event.schema.json).
struct SecurityEvent {
    std::string type;        ///< e.g. "AuthFailed", "UnknownStation", "Throttled"
    std::string station_id;  ///< empty when no identity could be read
    std::string address;     ///< the peer's IP address
    std::string detail;      ///< what happened, in words (no secrets)
};
std::string security_event(const SecurityEvent& event, std::string_view gateway_id,
                           std::string_view at);

/// A random (version 4) UUID.
std::string new_uuid();
/// Now, as RFC 3339 UTC with milliseconds: "2026-03-01T10:15:30.123Z".
std::string now_rfc3339();
/// Hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

}  // namespace kafka_bridge
