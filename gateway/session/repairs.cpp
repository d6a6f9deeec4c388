// Tolerance profiles in a Session: which profile the station matches, and the repair of a
// CALL (or 2.1 SEND) its schema refused (README "Tolerance profiles").
#include <set>

#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"

namespace gateway::session {
namespace {

/// The CALL (or 2.1 SEND, as a Call) in `raw` read again: the first reading was consumed by
/// the validation, and reading it twice costs only the messages that need it.
std::optional<ocpp::Call> reread_call(const std::string& raw, const config::Config& config,
                                      ocpp::ProtocolVersion version) {
    auto frame = ocpp::parse_frame(raw, config::frame_limits(config), version);
    if (!frame.ok()) {
        return std::nullopt;
    }
    if (auto* call = std::get_if<ocpp::Call>(&frame.value())) {
        return std::move(*call);
    }
    if (auto* send = std::get_if<ocpp::Send>(&frame.value())) {
        return ocpp::Call{std::move(send->id), std::move(send->action), std::move(send->payload)};
    }
    return std::nullopt;
}

}  // namespace

void Session::learn_model(const nlohmann::json& boot_payload) {
    StationModel model = boot_model(info_.version, boot_payload);
    if (!model.known()) {
        return;
    }
    services_.boot_models.remember(info_.station_id, model);
    model_ = std::make_unique<StationModel>(std::move(model));
    if (services_.config.tolerance.empty()) {
        return;
    }
    const config::ToleranceProfile* before = tolerance_;
    tolerance_ = match_profile(services_.config.tolerance, info_.station_id, *model_);
    if (tolerance_ != before) {
        log::info("station {}: {} {} firmware {}: tolerance profile {}", info_.station_id,
                  model_->vendor, model_->model, model_->firmware,
                  tolerance_ != nullptr ? tolerance_->name : std::string("none (strict)"));
    }
}

std::optional<ocpp::AcceptedCall> Session::repair(const std::string& raw, const ocpp::Rejection& rejection,
                                                  ocpp::Rpc as) {
    if (tolerance_ == nullptr || !ocpp::is_schema_violation(rejection.errc)) {
        return std::nullopt;
    }
    auto call = reread_call(raw, services_.config, info_.version);
    if (!call) {
        return std::nullopt;
    }
    const nlohmann::json* schema =
        services_.schemas.document(info_.version, call->action, ocpp::SchemaKind::request);
    if (schema == nullptr) {
        return std::nullopt;
    }
    std::vector<ocpp::Repair> repairs = ocpp::repair_payload(*schema, call->payload, tolerance_->policy);
    if (repairs.empty()) {
        services_.metrics.tolerance_refused(tolerance_->name);
        return std::nullopt;
    }
    auto accepted = ocpp::accept_station_call(info_.version, std::move(*call), services_.schemas, as);
    if (!accepted.ok()) {
        services_.metrics.tolerance_refused(tolerance_->name);
        return std::nullopt;
    }
    for (const auto& r : repairs) {
        services_.metrics.tolerance_repair(tolerance_->name, ocpp::repair_rule_name(r.rule));
    }
    accepted.value().repaired = std::make_shared<const ocpp::Repaired>(
        ocpp::Repaired{tolerance_->name, raw, std::move(repairs)});
    return std::move(accepted.value());
}

void Session::diagnose(const std::string& raw, kafka_bridge::DeadLetter& letter) {
    auto call = reread_call(raw, services_.config, info_.version);
    const nlohmann::json* schema =
        call ? services_.schemas.document(info_.version, call->action, ocpp::SchemaKind::request) : nullptr;
    if (schema == nullptr) {
        return;
    }
    const auto repairs = ocpp::repair_payload(*schema, call->payload, ocpp::RepairPolicy::everything());
    std::set<std::string_view> rules;
    for (const auto& r : repairs) {
        rules.insert(ocpp::repair_rule_name(r.rule));
    }
    const bool valid = !repairs.empty() &&
                       services_.schemas.validate(info_.version, call->action, ocpp::SchemaKind::request,
                                                  call->payload, 1).ok();
    letter.would_repair = nlohmann::json{{"rules", rules}, {"valid", valid}};
    if (services_.violations != nullptr) {
        services_.violations->count(model_.get(), rules, valid);
    }
    const std::string_view vendor = model_ ? std::string_view(model_->vendor) : std::string_view();
    const std::string_view model = model_ ? std::string_view(model_->model) : std::string_view();
    for (const auto rule : rules) {
        services_.metrics.schema_violation(vendor, model, rule);
    }
    if (!valid) {
        services_.metrics.schema_violation(vendor, model, "unrepairable");
    }
}

}  // namespace gateway::session
