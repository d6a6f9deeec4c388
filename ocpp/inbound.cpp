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

std::string Rejection::answer(ProtocolVersion v) const {
    CallError error = to_call_error(v);
    if (!about_result) {
        return serialize(error);
    }
    return serialize(CallResultError{std::move(error.id), std::move(error.code),
                                     std::move(error.description), std::move(error.details)});
}

Rejection reject_frame(ProtocolVersion v, const FrameError& error) {
    Rejection r = make_rejection(v, error.errc, error.message_id, error.detail);
    r.answerable = error.answerable();
    if (v == ProtocolVersion::v21 && error.message_type &&
        *error.message_type == static_cast<std::int64_t>(MessageType::call_result)) {
        r.answerable = true;  // 2.1: a CALLRESULT that cannot be read gets a CALLRESULTERROR
        r.about_result = true;
    }
    return r;
}

Result<AcceptedCall, Rejection> accept_station_call(ProtocolVersion v, Call call,
                                                    const SchemaRegistry& schemas, Rpc as) {
    auto checked = [&]() -> Result<AcceptedCall, Rejection> {
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
        if (action->rpc != as) {
            return make_rejection(v, Errc::action_not_allowed, call.id.get(),
                                  std::string(action->name) + " is sent as a " +
                                      (action->rpc == Rpc::send ? "SEND (message type 6)"
                                                                : "CALL (message type 2)"));
        }
        ValidationResult validation =
            schemas.validate(v, action->name, SchemaKind::request, call.payload);
        if (!validation.ok()) {
            return make_rejection(v, validation.violations.front().errc, call.id.get(),
                                  validation.summary());
        }
        return AcceptedCall{std::move(call), action};
    }();
    if (!checked.ok() && as == Rpc::send) {
        checked.error().answerable = false;  // nothing answers a SEND
    }
    return checked;
}

}  // namespace ocpp
