#include "gateway/session/command_checks.hpp"

#include <set>

#include "ocpp/actions.hpp"

namespace gateway::session {

using kafka_bridge::CommandError;
using kafka_bridge::CommandStatus;

std::optional<CommandOutcome> check_command(const ocpp::SchemaRegistry& schemas,
                                            ocpp::ProtocolVersion version,
                                            const Command& command) {
    const ocpp::ActionInfo* info = ocpp::find_action(version, command.action);
    if (info == nullptr || !info->central_may_send() ||
        !schemas.has(version, command.action, ocpp::SchemaKind::request)) {
        auto o = CommandOutcome::failure(
            CommandError::unknown_action,
            "\"" + command.action + "\" is not an action the central system sends in OCPP " +
                std::string(ocpp::version_label(version)));
        o.version = version;
        return o;
    }
    auto checked = schemas.validate(version, command.action, ocpp::SchemaKind::request,
                                    command.payload, 16);
    if (!checked.ok()) {
        auto o = CommandOutcome::failure(
            CommandError::invalid_payload,
            "the payload does not match the " + command.action + " request schema of OCPP " +
                std::string(ocpp::version_label(version)) + ": " + checked.summary());
        o.version = version;
        o.violations = std::move(checked.violations);
        return o;
    }
    return std::nullopt;
}

std::optional<CommandOutcome> check_action_exists(const ocpp::SchemaRegistry& schemas,
                                                  const Command& command) {
    for (const ocpp::ProtocolVersion version : ocpp::kAllVersions) {
        const ocpp::ActionInfo* info = ocpp::find_action(version, command.action);
        if (info != nullptr && info->central_may_send() &&
            schemas.has(version, command.action, ocpp::SchemaKind::request)) {
            return std::nullopt;
        }
    }
    std::string versions;
    for (const ocpp::ProtocolVersion version : ocpp::kAllVersions) {
        versions += (versions.empty() ? "" : ", ") + std::string(ocpp::version_label(version));
    }
    return CommandOutcome::failure(CommandError::unknown_action,
                                   "\"" + command.action + "\" is not an action the central "
                                   "system sends in any OCPP version (" + versions + ")");
}

std::optional<CommandOutcome> check_boot_state(ocpp::ProtocolVersion version, bool pending,
                                               bool rejected, const Command& command) {
    // OCPP 1.6 section 4.2: while Pending the central system may retrieve information and
    // change the configuration; after Rejected it sends nothing. 2.0.1 (B02, B03) the same;
    // a station the operator has not approved does not start or stop charging on command.
    static const std::set<std::string, std::less<>> kPending16 = {
        "GetConfiguration", "ChangeConfiguration", "GetLocalListVersion",
        "GetDiagnostics",   "TriggerMessage",      "DataTransfer"};
    static const std::set<std::string, std::less<>> kNotWhilePending201 = {
        "RequestStartTransaction", "RequestStopTransaction"};
    std::string why;
    if (rejected) {
        why = "the station's boot was answered Rejected: it is sent no commands until it boots "
              "again and is accepted";
    } else if (pending && (version == ocpp::ProtocolVersion::v16 ? kPending16.count(command.action) == 0
                                                                  : kNotWhilePending201.count(command.action) != 0)) {
        why = "the station's boot is Pending (not yet approved): " + command.action +
              " is sent once it is accepted";
    } else {
        return std::nullopt;
    }
    auto o = CommandOutcome::failure(CommandError::not_accepted, std::move(why));
    o.version = version;
    return o;
}

CommandOutcome answer_outcome(const ocpp::SchemaRegistry& schemas, ocpp::ProtocolVersion version,
                              const std::string& action, const nlohmann::json& response,
                              const config::ToleranceProfile* tolerance) {
    CommandOutcome o;
    o.status = CommandStatus::completed;
    o.version = version;
    o.response = response;
    o.sent = true;
    if (schemas.has(version, action, ocpp::SchemaKind::response)) {
        o.response_violations =
            schemas.validate(version, action, ocpp::SchemaKind::response, response, 16).violations;
    }
    const nlohmann::json* schema = schemas.document(version, action, ocpp::SchemaKind::response);
    if (!o.response_violations.empty() && tolerance != nullptr && schema != nullptr) {
        nlohmann::json repaired = response;
        const auto repairs = ocpp::repair_payload(*schema, repaired, tolerance->policy);
        if (!repairs.empty()) {
            const bool valid = schemas.validate(version, action, ocpp::SchemaKind::response, repaired, 1).ok();
            o.response_repairs = nlohmann::json{{"profile", tolerance->name},
                                                {"repairs", ocpp::repairs_json(repairs)},
                                                {"repaired", std::move(repaired)},
                                                {"valid", valid}};
        }
    }
    return o;
}

}  // namespace gateway::session
