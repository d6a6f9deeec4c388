#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "kafka_bridge/commands.hpp"
#include "ocpp/schema_registry.hpp"
#include "ocpp/version.hpp"

namespace gateway::session {

using kafka_bridge::Command;
using kafka_bridge::CommandOutcome;

/// Checks `command` against `version`: the action must be one the central system sends, the
/// payload must match its request schema. Returns the Rejected outcome, or nothing when fine.
std::optional<CommandOutcome> check_command(const ocpp::SchemaRegistry& schemas,
                                            ocpp::ProtocolVersion version,
                                            const Command& command);

/// Checks that `command`'s action is one the central system sends in some OCPP version, before
/// the station's version is known (it may be offline). Returns the Rejected outcome
/// (UnknownAction), or nothing when some version has it.
std::optional<CommandOutcome> check_action_exists(const ocpp::SchemaRegistry& schemas,
                                                  const Command& command);

/// Checks `command` against the station's boot state: nothing is sent to a station whose
/// boot was answered Rejected, and while Pending only what lets the operator look at and
/// configure it (OCPP 1.6: GetConfiguration, ChangeConfiguration, GetLocalListVersion,
/// GetDiagnostics, TriggerMessage, DataTransfer; 2.0.1: everything but starting and stopping a
/// transaction). Returns the Rejected outcome (NotAccepted), or nothing when it may be sent.
std::optional<CommandOutcome> check_boot_state(ocpp::ProtocolVersion version, bool pending,
                                               bool rejected, const Command& command);

/// The outcome of the station's answer to a command's CALL. An answer that breaks its schema
/// is reported with its violations; when `tolerance` (the station's profile) is given and its
/// repairs apply, also with what they would make of it (responseRepairs).
CommandOutcome answer_outcome(const ocpp::SchemaRegistry& schemas, ocpp::ProtocolVersion version,
                              const std::string& action, const nlohmann::json& response,
                              const config::ToleranceProfile* tolerance = nullptr);

/// The heartbeat interval a station agreed to in its answer to `command`, for the idle bound:
/// OCPP 1.6 ChangeConfiguration of HeartbeatInterval answered Accepted; 2.0.1 / 2.1
/// SetVariables of OCPPCommCtrlr's HeartbeatInterval (its Actual value) answered Accepted.
/// Names are compared without case (firmware varies). Nothing for any other command or
/// answer, nor for a value that is not a whole number of seconds from 1 to kMaxHeartbeatSeconds
/// (0 would be no interval, which the idle bound cannot go by).
std::optional<std::chrono::seconds> heartbeat_interval_agreed(ocpp::ProtocolVersion version,
                                                              const Command& command,
                                                              const nlohmann::json& response);

/// Largest heartbeat interval heartbeat_interval_agreed() takes (a week).
inline constexpr long long kMaxHeartbeatSeconds = 7LL * 24 * 3600;

}  // namespace gateway::session
