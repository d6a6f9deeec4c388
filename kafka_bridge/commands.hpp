#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ocpp/result.hpp"
#include "ocpp/schema_registry.hpp"
#include "ocpp/version.hpp"

namespace kafka_bridge {

/// How a command ended (docs/commands.md).
enum class CommandStatus : std::uint8_t {
    completed,
    call_error,
    timeout,
    not_connected,
    rejected,
    expired,
    superseded,
};
std::string_view command_status_name(CommandStatus s);

/// An operator command, as read from ocpp.commands or a route record.
struct Command {
    std::string command_id;
    std::string station_id;
    std::string action;
    nlohmann::json payload;
    std::chrono::milliseconds timeout{30000};
    /// Unix milliseconds after which the CALL must not be sent.
    std::int64_t expires_at_ms = 0;
    /// When a gateway first read it (RFC 3339).
    std::string received_at;
    /// Routing: the instance that decided where it goes, and how often it was forwarded.
    std::string origin;
    int hop = 0;
};

struct CommandDefaults {
    std::chrono::milliseconds timeout{30000};
    /// Without expiresAt, a command expires this long after its record's timestamp.
    std::chrono::milliseconds max_age{120000};
    /// Largest payload (as JSON text) a command may carry: the frame limit
    /// (limits.max_message_bytes) less kCommandRecordRoom. A larger one would not fit the
    /// route records that carry the command on and is refused at intake.
    std::size_t max_payload_bytes = SIZE_MAX;
};

/// What a route record holds beside its command's payload (ids, times, runs, a hop count:
/// well under this).
inline constexpr std::size_t kCommandRecordRoom = 4096;

/// Largest timeoutMs a command may ask for.
inline constexpr std::int64_t kMaxCommandTimeoutMs = 600000;
/// Latest expiresAt a command may carry, after its record's time: a command id is recognised
/// again for this long (24 h), so a command replayed later (group offsets lost, a consumer
/// reset to the earliest offset) must have expired, never run a second time.
inline constexpr std::int64_t kMaxCommandLifetimeMs = 24LL * 60 * 60 * 1000;
/// Longest commandId.
inline constexpr std::size_t kMaxCommandIdLength = 128;
/// Forwarding limit: a command chasing a station that keeps moving ends NotConnected.
inline constexpr int kMaxCommandHops = 4;

/// Why a command record cannot be executed. With a command id, the command gets a Rejected
/// result (InvalidCommand); without one it can only go to the dead-letter topic.
struct CommandProblem {
    std::optional<std::string> command_id;
    std::string station_id;  ///< as given, or the record key
    std::string action;      ///< as given, may be empty
    std::string reason;
};

/// Reads an ocpp.commands record. `key` is the record key; `timestamp_ms` the record's
/// timestamp (for the default expiry); `received_at` now, RFC 3339.
ocpp::Result<Command, CommandProblem> parse_command(const std::optional<std::string>& key,
                                                    std::string_view value,
                                                    std::int64_t timestamp_ms,
                                                    const std::string& received_at,
                                                    const CommandDefaults& defaults);

/// Why a command ended without the station's answer (docs/commands.md); each has one status
/// and one `error.code` (command_error_status, command_error_code).
enum class CommandError : std::uint8_t {
    no_response,            ///< Timeout / NoResponse
    station_not_connected,  ///< NotConnected / StationNotConnected
    connection_closed,      ///< NotConnected / ConnectionClosed
    gateway_unavailable,    ///< NotConnected / GatewayUnavailable
    unknown_action,         ///< Rejected / UnknownAction
    invalid_payload,        ///< Rejected / InvalidPayload
    invalid_command,        ///< Rejected / InvalidCommand
    queue_full,             ///< Rejected / QueueFull
    not_accepted,           ///< Rejected / NotAccepted (boot Pending or Rejected)
    expired,                ///< Expired / Expired
    superseded,             ///< Superseded / Superseded
};
inline constexpr std::size_t kCommandErrorCount = 11;
CommandStatus command_error_status(CommandError e);
std::string_view command_error_code(CommandError e);

/// What a result record says beyond the command's identity.
struct CommandOutcome {
    /// An ending without the station's answer: status and code from the table, `sent` false
    /// (set it when the CALL was, or may have been, written).
    static CommandOutcome failure(CommandError error, std::string description);
    /// The station answered with a CALLERROR: its code, description and details.
    static CommandOutcome station_error(std::string code, std::string description,
                                        std::optional<nlohmann::json> details);

    CommandStatus status = CommandStatus::completed;
    std::optional<nlohmann::json> response;            ///< Completed
    std::vector<ocpp::Violation> response_violations;  ///< Completed with an invalid answer
    /// Completed with an invalid answer from a station under a tolerance profile whose
    /// repairs apply: {profile, repairs, repaired, valid} (the answer itself is unchanged).
    std::optional<nlohmann::json> response_repairs;
    std::string error_code;                            ///< every other status
    std::string error_description;
    std::optional<nlohmann::json> error_details;
    std::vector<ocpp::Violation> violations;  ///< Rejected: the payload's violations
    bool sent = false;
    std::optional<std::string> message_id;
    std::optional<ocpp::ProtocolVersion> version;
    std::optional<std::string> sent_at;
};

/// A result record (schemas/events/command-result.schema.json) as JSON text.
std::string command_result(const std::string& command_id, const std::string& station_id,
                           const std::string& action, const std::string& received_at,
                           const CommandOutcome& outcome, std::string_view gateway_id,
                           std::string_view completed_at);

/// An owner's decision on a command (schemas/events/command-route.schema.json). The first
/// route record of a command id and hop in ocpp.command-routes is the decision every instance
/// follows; later ones (a second owner after a rebalance) are ignored by all.
struct CommandRoute {
    Command command;
    /// The instance that executes the command; empty when the outcome was decided at intake.
    std::string target;
    /// Decided at intake: the result record (JSON text) the origin writes once this route
    /// is the decision.
    std::optional<std::string> result;
    /// The runs (gateway_record) of the target and of the origin this decision was made for;
    /// 0: not known (the target's liveness not yet read, or a record without them). A run of
    /// the same instance id that is not this one never acts on the route.
    std::int64_t target_run = 0;
    std::int64_t origin_run = 0;
    /// 0: a decision (the first route of the command id and hop). n >= 1: the n-th claim to end
    /// that decision for an instance that went away before writing the result (no target,
    /// `result` set); among the records that follow one decision or claim, the first wins.
    int ends = 0;
};

/// The most claims one decision may get (each replaces a claimer that went away in turn).
inline constexpr int kMaxRouteClaims = 1000;

/// A route record as JSON text.
std::string command_route(const CommandRoute& route);
/// Reads a route record; the error says what is wrong with it.
ocpp::Result<CommandRoute, std::string> parse_command_route(std::string_view value);

/// Where a station is connected (schemas/events/presence.schema.json).
struct Presence {
    std::string station_id;
    std::string gateway_id;
    bool connected = false;
    /// The offset of the Connected record: a later connection has a larger epoch.
    std::int64_t epoch = -1;
    std::string session_id;
    std::optional<ocpp::ProtocolVersion> version;
    std::string since;  ///< when the connection opened
    std::string at;     ///< when the record was written
};

/// Presence records are keyed by the lower-case station id (identities are case-insensitive).
std::string presence_key(std::string_view station_id);
/// Liveness records of instances use this key; ':' never occurs in a station id.
std::string gateway_key(std::string_view gateway_id);
std::string presence_record(const Presence& p);
/// An instance's liveness record. `run` tells the runs of one instance id apart (a process
/// restarted under the same id has a larger one); 0 leaves it out.
std::string gateway_record(std::string_view gateway_id, bool alive, std::string_view at,
                           std::int64_t run = 0);

/// Unix milliseconds of an RFC 3339 date-time, or nothing when it is not one.
std::optional<std::int64_t> parse_time_ms(std::string_view rfc3339);
/// Unix milliseconds as RFC 3339 UTC with milliseconds.
std::string format_time_ms(std::int64_t unix_ms);
std::int64_t unix_now_ms();

}  // namespace kafka_bridge
