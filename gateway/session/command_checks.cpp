#include "gateway/session/command_checks.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "ocpp/actions.hpp"
#include "ocpp/types.hpp"

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

namespace {

bool same_name(const nlohmann::json& value, std::string_view name) {
    return value.is_string() && ocpp::ascii_lower(value.get_ref<const std::string&>()) == ocpp::ascii_lower(name);
}

/// `member` of `object` as a string, or "" when absent or not a string.
std::string_view text_of(const nlohmann::json& object, const char* member) {
    const auto it = object.find(member);
    return it != object.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>())
                                                 : std::string_view();
}

std::optional<std::chrono::seconds> whole_seconds(std::string_view text) {
    long long value = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1 ||
        value > kMaxHeartbeatSeconds) {
        return std::nullopt;
    }
    return std::chrono::seconds(value);
}

/// A 2.0.1 / 2.1 SetVariableData or SetVariableResult entry about OCPPCommCtrlr's Actual
/// HeartbeatInterval.
bool is_heartbeat_interval(const nlohmann::json& entry) {
    if (!entry.is_object()) {
        return false;
    }
    const auto component = entry.find("component");
    const auto variable = entry.find("variable");
    const std::string_view type = text_of(entry, "attributeType");
    return component != entry.end() && component->is_object() &&
           same_name(component->value("name", nlohmann::json()), "OCPPCommCtrlr") &&
           variable != entry.end() && variable->is_object() &&
           same_name(variable->value("name", nlohmann::json()), "HeartbeatInterval") &&
           (type.empty() || ocpp::ascii_lower(type) == "actual");
}

}  // namespace

std::optional<std::chrono::seconds> heartbeat_interval_agreed(ocpp::ProtocolVersion version,
                                                              const Command& command,
                                                              const nlohmann::json& response) {
    if (!command.payload.is_object() || !response.is_object()) {
        return std::nullopt;
    }
    if (version == ocpp::ProtocolVersion::v16) {
        if (command.action != "ChangeConfiguration" ||
            !same_name(command.payload.value("key", nlohmann::json()), "HeartbeatInterval") ||
            text_of(response, "status") != "Accepted") {
            return std::nullopt;
        }
        return whole_seconds(text_of(command.payload, "value"));
    }
    if (command.action != "SetVariables") {
        return std::nullopt;
    }
    const auto asked = command.payload.find("setVariableData");
    const auto results = response.find("setVariableResult");
    if (asked == command.payload.end() || !asked->is_array() || results == response.end() ||
        !results->is_array()) {
        return std::nullopt;
    }
    const bool accepted = std::any_of(results->begin(), results->end(), [](const nlohmann::json& r) {
        return is_heartbeat_interval(r) && text_of(r, "attributeStatus") == "Accepted";
    });
    if (!accepted) {
        return std::nullopt;
    }
    // The last value asked for wins, as a station applies them in order.
    std::optional<std::chrono::seconds> agreed;
    for (const auto& entry : *asked) {
        if (is_heartbeat_interval(entry)) {
            agreed = whole_seconds(text_of(entry, "attributeValue"));
        }
    }
    return agreed;
}

}  // namespace gateway::session
