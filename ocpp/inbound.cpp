#include "ocpp/inbound.hpp"

namespace ocpp {
namespace {

Rejection make_rejection(ProtocolVersion v, Errc errc, std::string id, std::string description) {
    return Rejection{errc, std::move(id), call_error_code(errc, v),
                     truncate_utf8(description), true};
}

}  // namespace

CallError Rejection::to_call_error(ProtocolVersion v) const {
    return make_call_error(message_id, code, v, description);
}

Rejection reject_frame(ProtocolVersion v, const FrameError& error) {
    Rejection r = make_rejection(v, error.errc, error.message_id, error.detail);
    r.answerable = error.answerable();
    return r;
}

Result<AcceptedCall, Rejection> accept_station_call(ProtocolVersion v, Call call,
                                                    const SchemaRegistry& schemas) {
    const ActionInfo* action = find_action(v, call.action);
    if (action == nullptr) {
        // The action name is not echoed: it is station input of any content.
        return make_rejection(v, Errc::unknown_action, call.id.get(),
                              "action is not an OCPP " + std::string(version_label(v)) +
                                  " action");
    }
    if (!action->station_may_send()) {
        return make_rejection(v, Errc::action_not_allowed, call.id.get(),
                              std::string(action->name) +
                                  " is initiated by the central system, not the station");
    }
    ValidationResult validation =
        schemas.validate(v, action->name, SchemaKind::request, call.payload);
    if (!validation.ok()) {
        return make_rejection(v, validation.violations.front().errc, call.id.get(),
                              validation.summary());
    }
    return AcceptedCall{std::move(call), action};
}

}  // namespace ocpp
