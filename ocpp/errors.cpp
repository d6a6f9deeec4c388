#include "ocpp/errors.hpp"

#include <array>

namespace ocpp {
namespace {

using C = CallErrorCode;

// The one table from internal errors to CALLERROR codes, per version.
struct ErrcRow {
    Errc errc;
    C v16;
    C v201;
    std::string_view message;
};

// clang-format off
constexpr std::array<ErrcRow, 22> kErrcTable = {{
    {Errc::not_json,             C::FormatViolation,               C::RpcFrameworkError,             "message is not valid JSON"},
    {Errc::not_array,            C::FormatViolation,               C::RpcFrameworkError,             "message is not a non-empty JSON array"},
    {Errc::bad_message_type,     C::FormatViolation,               C::RpcFrameworkError,             "message type id is not an integer"},
    {Errc::unknown_message_type, C::ProtocolError,                 C::MessageTypeNotSupported,       "message type id is not 2, 3 or 4"},
    {Errc::wrong_arity,          C::FormatViolation,               C::RpcFrameworkError,             "wrong number of elements for the message type"},
    {Errc::bad_message_id,       C::FormatViolation,               C::RpcFrameworkError,             "message id is not a string of 1 to 36 characters"},
    {Errc::bad_action,           C::FormatViolation,               C::RpcFrameworkError,             "action is not a non-empty string"},
    {Errc::payload_not_object,   C::FormatViolation,               C::FormatViolation,               "payload is not a JSON object"},
    {Errc::bad_error_fields,     C::FormatViolation,               C::RpcFrameworkError,             "CALLERROR fields have the wrong types"},
    {Errc::too_deep,             C::FormatViolation,               C::FormatViolation,               "message nests too deeply"},
    {Errc::too_large,            C::FormatViolation,               C::FormatViolation,               "message is too large"},
    {Errc::number_out_of_range,  C::FormatViolation,               C::FormatViolation,               "number out of range"},
    {Errc::unknown_action,       C::NotImplemented,                C::NotImplemented,                "action is not known for this OCPP version"},
    {Errc::action_not_allowed,   C::NotSupported,                  C::NotSupported,                  "action may not be initiated by this side"},
    {Errc::type_violation,       C::TypeConstraintViolation,       C::TypeConstraintViolation,       "payload field of the wrong type"},
    {Errc::occurrence_violation, C::OccurrenceConstraintViolation, C::OccurrenceConstraintViolation, "payload field missing or repeated wrongly"},
    {Errc::property_violation,   C::PropertyConstraintViolation,   C::PropertyConstraintViolation,   "payload field has an invalid value"},
    {Errc::format_violation,     C::FormatViolation,               C::FormatViolation,               "payload field is badly formatted"},
    {Errc::duplicate_message_id, C::ProtocolError,                 C::RpcFrameworkError,             "message id reused while a call with it is in flight"},
    {Errc::too_many_in_flight,   C::ProtocolError,                 C::RpcFrameworkError,             "too many calls in flight"},
    {Errc::rate_limited,         C::GenericError,                  C::GenericError,                  "too many messages per second"},
    {Errc::internal_error,       C::InternalError,                 C::InternalError,                 "internal error"},
}};

struct CodeRow {
    C code;
    std::string_view v16;   // empty: not a code of 1.6
    std::string_view v201;  // empty: not a code of 2.0.1
};

constexpr std::array<CodeRow, 12> kCodeNames = {{
    {C::NotImplemented,                "NotImplemented",               "NotImplemented"},
    {C::NotSupported,                  "NotSupported",                 "NotSupported"},
    {C::InternalError,                 "InternalError",                "InternalError"},
    {C::ProtocolError,                 "ProtocolError",                "ProtocolError"},
    {C::SecurityError,                 "SecurityError",                "SecurityError"},
    {C::FormatViolation,               "FormationViolation",           "FormatViolation"},
    {C::PropertyConstraintViolation,   "PropertyConstraintViolation",  "PropertyConstraintViolation"},
    {C::OccurrenceConstraintViolation, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"},
    {C::TypeConstraintViolation,       "TypeConstraintViolation",      "TypeConstraintViolation"},
    {C::GenericError,                  "GenericError",                 "GenericError"},
    {C::RpcFrameworkError,             "",                             "RpcFrameworkError"},
    {C::MessageTypeNotSupported,       "",                             "MessageTypeNotSupported"},
}};
// clang-format on

const ErrcRow* find_row(Errc e) {
    for (const auto& row : kErrcTable) {
        if (row.errc == e) {
            return &row;
        }
    }
    return nullptr;
}

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ocpp"; }
    std::string message(int value) const override {
        const ErrcRow* row = find_row(static_cast<Errc>(value));
        return row != nullptr ? std::string(row->message) : "unknown ocpp error";
    }
};

}  // namespace

const std::error_category& error_category() {
    static const Category category;
    return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

CallErrorCode call_error_code(Errc e, ProtocolVersion v) {
    const ErrcRow* row = find_row(e);
    if (row == nullptr) {
        return C::InternalError;
    }
    return v == ProtocolVersion::v16 ? row->v16 : row->v201;
}

std::string_view wire_name(CallErrorCode code, ProtocolVersion v) {
    const CodeRow& row = kCodeNames[static_cast<std::size_t>(code)];
    if (v != ProtocolVersion::v16) {
        return row.v201;  // 2.1 spells every code as 2.0.1 does
    }
    if (!row.v16.empty()) {
        return row.v16;
    }
    return code == C::MessageTypeNotSupported ? "ProtocolError" : "FormationViolation";
}

std::optional<CallErrorCode> parse_call_error_code(std::string_view text, ProtocolVersion v) {
    for (const auto& row : kCodeNames) {
        const std::string_view name = v == ProtocolVersion::v16 ? row.v16 : row.v201;
        if (!name.empty() && name == text) {
            return row.code;
        }
    }
    return std::nullopt;
}

std::string truncate_utf8(std::string_view text, std::size_t max) {
    if (text.size() <= max) {
        return std::string(text);
    }
    std::size_t end = max;
    // Step back over continuation bytes so a multi-byte sequence is never split.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
        --end;
    }
    return std::string(text.substr(0, end));
}

}  // namespace ocpp
