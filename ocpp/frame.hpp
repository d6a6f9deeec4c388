#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "ocpp/errors.hpp"
#include "ocpp/result.hpp"
#include "ocpp/types.hpp"
#include "ocpp/version.hpp"

namespace ocpp {

/// 5 and 6 exist only in OCPP 2.1 (RPC framework 2.0): elsewhere they are unknown types.
enum class MessageType : std::uint8_t {
    call = 2,
    call_result = 3,
    call_error = 4,
    call_result_error = 5,  ///< the answer to a CALLRESULT that could not be processed
    send = 6,               ///< a CALL that is never answered
};

/// Positions of the elements of an OCPP-J frame.
namespace position {
inline constexpr std::size_t kMessageType = 0;
inline constexpr std::size_t kMessageId = 1;
inline constexpr std::size_t kCallAction = 2;
inline constexpr std::size_t kCallPayload = 3;
inline constexpr std::size_t kResultPayload = 2;
inline constexpr std::size_t kErrorCode = 2;
inline constexpr std::size_t kErrorDescription = 3;
inline constexpr std::size_t kErrorDetails = 4;
}  // namespace position

struct Call {
    MessageId id;
    std::string action;
    nlohmann::json payload;
};

struct CallResult {
    MessageId id;
    nlohmann::json payload;
};

struct CallError {
    MessageId id;
    std::string code;
    std::string description;
    nlohmann::json details = nlohmann::json::object();
};

/// OCPP 2.1: a CALL without an answer.
struct Send {
    MessageId id;
    std::string action;
    nlohmann::json payload;
};

/// OCPP 2.1: a CALLERROR about a CALLRESULT (its id), never answered.
struct CallResultError {
    MessageId id;
    std::string code;
    std::string description;
    nlohmann::json details = nlohmann::json::object();
};

using Frame = std::variant<Call, CallResult, CallError, Send, CallResultError>;

/// Why a text is not a usable frame, with what could still be read of it.
struct FrameError {
    Errc errc;
    /// The frame's message id when it could be read, else "-1".
    std::string message_id{kUnreadableMessageId};
    /// The message type number when it could be read.
    std::optional<std::int64_t> message_type;
    /// Human-readable detail (ASCII, never echoes the offending input).
    std::string detail;
    /// Read as OCPP 2.1, where SEND and CALLRESULTERROR exist (and are never answered).
    bool rpc21 = false;

    /// A CALLERROR answers only CALLs and unreadable or unknown frames, never a CALLRESULT
    /// or CALLERROR of the peer (nor, in 2.1, a SEND or CALLRESULTERROR).
    bool answerable() const;
};

/// Bounds applied by the codec. Each has a reason.
struct FrameLimits {
    /// Largest frame accepted: real NotifyReport / MeterValues frames are tens of KiB; 256 KiB
    /// leaves room for large vendor DataTransfer while capping per-session memory.
    std::size_t max_frame_bytes = 256 * 1024;
    /// Deepest nesting accepted (the frame array is level 1): the deepest official 2.0.1
    /// payload nests about 8 levels; 32 stops stack and time abuse long before it matters.
    std::size_t max_depth = 32;
};

/// Parses one OCPP-J text message. Never throws. Errors carry the id when it can be read.
/// Message types 5 and 6 are read only for `version` 2.1.
Result<Frame, FrameError> parse_frame(std::string_view text, const FrameLimits& limits = {},
                                      ProtocolVersion version = ProtocolVersion::v16);

/// The frame as OCPP-J text.
std::string serialize(const Call& call);
std::string serialize(const CallResult& result);
/// A CALLRESULT whose payload is already JSON text (as serialize(CallResult) writes it, without
/// copying a payload tree).
std::string serialize_call_result(const MessageId& id, std::string_view payload_json);
std::string serialize(const CallError& error);
std::string serialize(const Send& send);
std::string serialize(const CallResultError& error);

/// A CALLERROR for `id` with the version's spelling of `code`; the description is cut to 255
/// bytes.
CallError make_call_error(std::string_view id, CallErrorCode code, ProtocolVersion version,
                          std::string_view description,
                          nlohmann::json details = nlohmann::json::object());

}  // namespace ocpp
