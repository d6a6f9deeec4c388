#include "gateway/session/command_checks.hpp"

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

CommandOutcome answer_outcome(const ocpp::SchemaRegistry& schemas, ocpp::ProtocolVersion version,
                              const std::string& action, const nlohmann::json& response) {
    CommandOutcome o;
    o.status = CommandStatus::completed;
    o.version = version;
    o.response = response;
    o.sent = true;
    if (schemas.has(version, action, ocpp::SchemaKind::response)) {
        o.response_violations =
            schemas.validate(version, action, ocpp::SchemaKind::response, response, 16).violations;
    }
    return o;
}

}  // namespace gateway::session
