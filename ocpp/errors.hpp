#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ocpp/version.hpp"

namespace ocpp {

/// Everything the protocol core can find wrong with an inbound message.
enum class Errc : std::uint8_t {
    // The frame (RPC envelope).
    not_json = 1,             ///< not parseable JSON (syntax, invalid UTF-8, lone surrogate)
    not_array,                ///< JSON, but not a non-empty array
    bad_message_type,         ///< element 0 is not an integer
    unknown_message_type,     ///< element 0 is an integer other than 2, 3, 4
    wrong_arity,              ///< wrong number of elements for the message type
    bad_message_id,           ///< id not a string of 1..36 characters
    bad_action,               ///< action not a non-empty string
    payload_not_object,       ///< CALL / CALLRESULT payload is not a JSON object
    bad_error_fields,         ///< CALLERROR code/description/details of the wrong type
    too_deep,                 ///< nesting deeper than the configured limit
    too_large,                ///< frame longer than the configured limit
    number_out_of_range,      ///< a number that does not fit a double (1e400)
    // The action.
    unknown_action,           ///< not an action of the negotiated version
    action_not_allowed,       ///< an action only the other side may initiate
    // The payload against its schema.
    type_violation,
    occurrence_violation,
    property_violation,
    format_violation,
    // RPC rules.
    duplicate_message_id,     ///< a CALL reuses the id of a CALL still in flight
    too_many_in_flight,       ///< the station has more CALLs outstanding than allowed
    rate_limited,             ///< the station sends more messages per second than allowed
    // Ours.
    internal_error,
};

/// Whether `e` is a payload breaking its schema (the faults a tolerance profile may repair).
inline bool is_schema_violation(Errc e) {
    return e == Errc::type_violation || e == Errc::occurrence_violation ||
           e == Errc::property_violation || e == Errc::format_violation;
}

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

/// CALLERROR error codes across versions. Spelling differs per version: see wire_name.
enum class CallErrorCode : std::uint8_t {
    NotImplemented,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormatViolation,                ///< 1.6 spells it FormationViolation
    PropertyConstraintViolation,
    OccurrenceConstraintViolation,  ///< 1.6 spells it OccurenceConstraintViolation
    TypeConstraintViolation,
    GenericError,
    RpcFrameworkError,              ///< 2.0.1 only
    MessageTypeNotSupported,        ///< 2.0.1 only
};

/// The code a CALLERROR carries for `e` on a connection of version `v`.
CallErrorCode call_error_code(Errc e, ProtocolVersion v);
/// The code's spelling on the wire for version `v`. Codes a version lacks map to their nearest
/// equivalent of that version (RpcFrameworkError → FormationViolation in 1.6).
std::string_view wire_name(CallErrorCode code, ProtocolVersion v);
/// Reads a CALLERROR code as spelled for version `v`; nullopt when it is not a code of `v`.
std::optional<CallErrorCode> parse_call_error_code(std::string_view text, ProtocolVersion v);

/// Longest error description the gateway sends.
inline constexpr std::size_t kMaxErrorDescription = 255;
/// `text` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view text, std::size_t max = kMaxErrorDescription);

}  // namespace ocpp

template <>
struct std::is_error_code_enum<ocpp::Errc> : std::true_type {};
