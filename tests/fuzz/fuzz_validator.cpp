// ocpp::SchemaRegistry::validate, ocpp::accept_station_call and the tolerance profiles'
// repairs (ocpp::repair_payload) on hostile payloads.
// Input: an OCPP-J frame; when it is a CALL its action and payload are checked for both
// versions. Anything else is read as [selector byte][JSON payload]: bit 0 of the selector picks
// the version, the other bits an action of ocpp::actions(version), and the payload is
// validated as that action's request and response.
#include <string>
#include <variant>

#include "fuzz_support.hpp"
#include "ocpp/actions.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/inbound.hpp"
#include "ocpp/json_reader.hpp"
#include "ocpp/repair.hpp"
#include "ocpp/schema_registry.hpp"

namespace {

using nlohmann::json;
using ocpp::ProtocolVersion;
using ocpp::SchemaKind;

constexpr std::size_t kMaxViolations = 8;

const ocpp::SchemaRegistry& registry() {
    static const ocpp::SchemaRegistry instance;
    return instance;
}

void validate(ProtocolVersion v, std::string_view action, SchemaKind kind, const json& payload) {
    const auto result = registry().validate(v, action, kind, payload, kMaxViolations);
    fuzz::require(result.violations.size() <= kMaxViolations, "at most max_violations");
    if (!registry().has(v, action, kind)) {
        fuzz::require(result.violations.size() == 1 &&
                          result.violations.front().errc == ocpp::Errc::unknown_action,
                      "an action without a schema gives one unknown_action violation");
        return;
    }
    for (const auto& violation : result.violations) {
        fuzz::require(ocpp::is_schema_violation(violation.errc),
                      "a schema violation is type, occurrence, property or format");
        fuzz::require(!violation.path.empty() && violation.path.front() == '/',
                      "a violation path is a JSON pointer");
    }
    fuzz::require(fuzz::valid_utf8(result.summary()), "the violation summary is UTF-8");
}

// Every repair at once, with an offset taken from the payload's size (any of -12:00..+12:00).
void repair(ProtocolVersion v, const ocpp::Call& call) {
    const json* schema = registry().document(v, call.action, SchemaKind::request);
    fuzz::require(schema != nullptr, "a station action has a request schema document");
    json untouched = call.payload;
    fuzz::require(ocpp::repair_payload(*schema, untouched, ocpp::RepairPolicy{}).empty() &&
                      untouched == call.payload,
                  "a policy that allows nothing changes nothing");
    ocpp::RepairPolicy all = ocpp::RepairPolicy::everything();
    all.assume_offset_minutes = static_cast<int>(call.payload.size() % 49) * 30 - 720;
    json payload = call.payload;
    const auto repairs = ocpp::repair_payload(*schema, payload, all);
    for (const auto& r : repairs) {
        fuzz::require(r.path.empty() || r.path.front() == '/', "a repair path is a JSON pointer");
        const json::json_pointer at(r.path);
        if (r.to) {
            fuzz::require(payload.contains(at) && payload.at(at) == *r.to, "a repair's `to` is what the payload holds");
        } else {
            fuzz::require(!payload.contains(at), "a removed property is gone");
        }
    }
    fuzz::require(repairs.empty() == (payload == call.payload), "the payload changed exactly when repairs are listed");
    // The repaired payload is validated again and either accepted or refused like any other.
    auto again = ocpp::accept_station_call(v, ocpp::Call{call.id, call.action, payload}, registry());
    if (!again.ok()) {
        fuzz::require(ocpp::is_schema_violation(again.error().errc), "a repaired payload still failing fails its schema");
    } else {
        fuzz::require(registry().validate(v, call.action, SchemaKind::request, payload).ok(),
                      "an accepted repaired payload is schema-valid");
    }
}

void accept(ProtocolVersion v, const ocpp::Call& call) {
    auto outcome = ocpp::accept_station_call(v, call, registry());
    const ocpp::ActionInfo* info = ocpp::find_action(v, call.action);
    if (outcome.ok()) {
        const auto& accepted = outcome.value();
        fuzz::require(info != nullptr && accepted.action == info, "accepted: a known action");
        fuzz::require(info->station_may_send() && info->event_class.has_value(),
                      "accepted: a station-initiated action with an event class");
        fuzz::require(accepted.call.id == call.id && accepted.call.payload == call.payload,
                      "accepted: the call unchanged");
        fuzz::require(registry().validate(v, call.action, SchemaKind::request, call.payload).ok(),
                      "accepted: the payload is schema-valid");
        return;
    }
    const ocpp::Rejection& rejection = outcome.error();
    fuzz::require(rejection.answerable, "a refused station CALL is answered");
    fuzz::require(rejection.message_id == call.id.get(), "the rejection carries the call's id");
    fuzz::require(rejection.code == ocpp::call_error_code(rejection.errc, v),
                  "the rejection code is the version's code for its errc");
    fuzz::require(rejection.description.size() <= ocpp::kMaxErrorDescription,
                  "the rejection description is at most 255 bytes");
    fuzz::require(fuzz::valid_utf8(rejection.description), "the rejection description is UTF-8");
    if (info == nullptr) {
        fuzz::require(rejection.errc == ocpp::Errc::unknown_action, "unknown action → NotImplemented");
    } else if (!info->station_may_send()) {
        fuzz::require(rejection.errc == ocpp::Errc::action_not_allowed,
                      "central-only action → NotSupported");
    } else {
        fuzz::require(ocpp::is_schema_violation(rejection.errc), "a known station action fails its schema");
        repair(v, call);
    }
    // What the gateway sends back must be a frame a station can read.
    const std::string text = ocpp::serialize(rejection.to_call_error(v));
    auto back = ocpp::parse_frame(text);
    fuzz::require(back.ok() && std::holds_alternative<ocpp::CallError>(back.value()),
                  "the CALLERROR sent for a refused CALL parses");
}

void check_call(const ocpp::Call& call) {
    for (const auto v : ocpp::kAllVersions) {
        validate(v, call.action, SchemaKind::request, call.payload);
        validate(v, call.action, SchemaKind::response, call.payload);
        accept(v, call);
    }
}

void check_payload(std::uint8_t selector, std::string_view text) {
    const auto v = (selector & 1U) != 0 ? ProtocolVersion::v201 : ProtocolVersion::v16;
    const auto& actions = ocpp::actions(v);
    const auto& action = actions[(selector >> 1U) % actions.size()];
    // In a frame the payload is one level below the frame array.
    auto payload = ocpp::read_json(text, ocpp::FrameLimits{}.max_depth - 1);
    if (!payload.ok()) {
        return;
    }
    validate(v, action.name, SchemaKind::request, payload.value());
    validate(v, action.name, SchemaKind::response, payload.value());
    if (payload.value().is_object()) {
        accept(v, ocpp::Call{ocpp::MessageId("fuzz"), std::string(action.name),
                             std::move(payload.value())});
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    registry();  // compile every schema before the first input, not inside its time budget
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    auto frame = ocpp::parse_frame(text);
    if (frame.ok()) {
        if (const auto* call = std::get_if<ocpp::Call>(&frame.value())) {
            check_call(*call);
            return 0;
        }
    }
    if (size == 0) {
        return 0;
    }
    check_payload(data[0], text.substr(1));
    return 0;
}
