#include "ocpp/frame.hpp"

#include "ocpp/json_reader.hpp"
#include "ocpp/json_writer.hpp"

#include <stdexcept>

namespace ocpp {
namespace {

using json = nlohmann::json;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What can be read from the start of a frame that did not parse as JSON: `[<type>,"<id>"`.
struct Prefix {
    std::optional<std::int64_t> message_type;
    std::optional<std::string> message_id;
};

Prefix scan_prefix(std::string_view text) {
    Prefix prefix;
    std::size_t i = 0;
    auto skip_ws = [&] {
        while (i < text.size() && is_ws(text[i])) {
            ++i;
        }
    };
    skip_ws();
    if (i >= text.size() || text[i] != '[') {
        return prefix;
    }
    ++i;
    skip_ws();
    const std::size_t digits_begin = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - digits_begin < 6) {
        ++i;
    }
    if (i == digits_begin) {
        return prefix;
    }
    prefix.message_type = std::stoll(std::string(text.substr(digits_begin, i - digits_begin)));
    skip_ws();
    if (i >= text.size() || text[i] != ',') {
        return prefix;
    }
    ++i;
    skip_ws();
    if (i >= text.size() || text[i] != '"') {
        return prefix;
    }
    ++i;
    const std::size_t id_begin = i;
    while (i < text.size() && text[i] != '"' && text[i] != '\\' &&
           static_cast<unsigned char>(text[i]) >= 0x20 &&
           static_cast<unsigned char>(text[i]) < 0x80 && i - id_begin <= kMaxMessageIdLength) {
        ++i;
    }
    const std::size_t length = i - id_begin;
    if (i < text.size() && text[i] == '"' && length >= 1 && length <= kMaxMessageIdLength) {
        prefix.message_id = std::string(text.substr(id_begin, length));
    }
    return prefix;
}

FrameError with_rpc(FrameError error, bool rpc21) {
    error.rpc21 = rpc21;
    return error;
}

FrameError error_from_prefix(Errc errc, std::string_view text, std::string detail) {
    FrameError error{errc, std::string(kUnreadableMessageId), std::nullopt, std::move(detail)};
    Prefix prefix = scan_prefix(text);
    error.message_type = prefix.message_type;
    if (prefix.message_id) {
        error.message_id = std::move(*prefix.message_id);
    }
    return error;
}

bool valid_message_id(const json& id) {
    if (!id.is_string()) {
        return false;
    }
    const auto& s = id.get_ref<const std::string&>();
    return !s.empty() && s.size() <= kMaxMessageIdLength;
}

}  // namespace

bool FrameError::answerable() const {
    if (!message_type) {
        return true;
    }
    const auto type = *message_type;
    if (type == static_cast<std::int64_t>(MessageType::call_result) ||
        type == static_cast<std::int64_t>(MessageType::call_error)) {
        return false;
    }
    return !rpc21 || (type != static_cast<std::int64_t>(MessageType::send) &&
                      type != static_cast<std::int64_t>(MessageType::call_result_error));
}

Result<Frame, FrameError> parse_frame(std::string_view text, const FrameLimits& limits,
                                      ProtocolVersion version) {
    const bool rpc21 = version == ProtocolVersion::v21;
    if (text.size() > limits.max_frame_bytes) {
        return with_rpc(error_from_prefix(Errc::too_large, text,
                                          "frame of " + std::to_string(text.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(limits.max_frame_bytes)),
                        rpc21);
    }

    auto parsed = read_json(text, limits.max_depth);
    if (!parsed.ok()) {
        switch (parsed.error().kind) {
            case JsonError::Kind::too_deep:
                return with_rpc(error_from_prefix(Errc::too_deep, text,
                                                  "nesting deeper than " + std::to_string(limits.max_depth)),
                                rpc21);
            case JsonError::Kind::out_of_range:
                return with_rpc(error_from_prefix(Errc::number_out_of_range, text,
                                                  "number does not fit a double"),
                                rpc21);
            case JsonError::Kind::syntax:
                break;
        }
        return with_rpc(error_from_prefix(Errc::not_json, text, "invalid JSON"), rpc21);
    }
    json doc = std::move(parsed.value());

    if (!doc.is_array() || doc.empty()) {
        return FrameError{Errc::not_array, std::string(kUnreadableMessageId), std::nullopt,
                          "frame is not a non-empty JSON array", rpc21};
    }

    FrameError error{Errc::bad_message_type, std::string(kUnreadableMessageId), std::nullopt, {}, rpc21};
    if (doc.size() > position::kMessageId && valid_message_id(doc[position::kMessageId])) {
        error.message_id = doc[position::kMessageId].get<std::string>();
    }

    const json& type = doc[position::kMessageType];
    if (!type.is_number_integer()) {
        error.detail = "message type id is not an integer";
        return error;
    }
    const auto type_number = type.get<std::int64_t>();
    error.message_type = type_number;

    auto fail = [&error](Errc errc, std::string detail) {
        error.errc = errc;
        error.detail = std::move(detail);
        return error;
    };

    const std::int64_t last_type = static_cast<std::int64_t>(rpc21 ? MessageType::send : MessageType::call_error);
    if (type_number < static_cast<std::int64_t>(MessageType::call) || type_number > last_type) {
        return fail(Errc::unknown_message_type,
                    "message type " + std::to_string(type_number) +
                        (rpc21 ? " is not 2, 3, 4, 5 or 6" : " is not 2, 3 or 4"));
    }

    const auto kind = static_cast<MessageType>(type_number);
    const std::size_t arity = doc.size();
    const bool call_like = kind == MessageType::call || kind == MessageType::send;
    const bool error_like = kind == MessageType::call_error || kind == MessageType::call_result_error;
    const bool arity_ok = (call_like && arity == 4) ||
                          (kind == MessageType::call_result && arity == 3) ||
                          // Firmware in the field sometimes omits the CALLERROR details.
                          (error_like && (arity == 5 || arity == 4));
    if (!arity_ok) {
        return fail(Errc::wrong_arity,
                    "frame of type " + std::to_string(type_number) + " has " +
                        std::to_string(arity) + " elements");
    }
    if (!valid_message_id(doc[position::kMessageId])) {
        return fail(Errc::bad_message_id, "message id is not a string of 1 to 36 characters");
    }
    MessageId id(error.message_id);

    switch (kind) {
        case MessageType::call:
        case MessageType::send: {
            json& action = doc[position::kCallAction];
            if (!action.is_string() || action.get_ref<const std::string&>().empty()) {
                return fail(Errc::bad_action, "action is not a non-empty string");
            }
            json& payload = doc[position::kCallPayload];
            if (!payload.is_object()) {
                return fail(Errc::payload_not_object,
                            std::string(kind == MessageType::call ? "CALL" : "SEND") +
                                " payload is not a JSON object");
            }
            if (kind == MessageType::send) {
                return Frame{Send{std::move(id), std::move(action.get_ref<std::string&>()),
                                  std::move(payload)}};
            }
            return Frame{Call{std::move(id), std::move(action.get_ref<std::string&>()),
                              std::move(payload)}};
        }
        case MessageType::call_result: {
            json& payload = doc[position::kResultPayload];
            if (!payload.is_object()) {
                return fail(Errc::payload_not_object, "CALLRESULT payload is not a JSON object");
            }
            return Frame{CallResult{std::move(id), std::move(payload)}};
        }
        case MessageType::call_error:
        case MessageType::call_result_error: {
            json& code = doc[position::kErrorCode];
            json& description = doc[position::kErrorDescription];
            json details = arity == 5 ? std::move(doc[position::kErrorDetails]) : json::object();
            if (!code.is_string() || !description.is_string() || !details.is_object()) {
                return fail(Errc::bad_error_fields,
                            "CALLERROR code and description must be strings, details an object");
            }
            if (kind == MessageType::call_result_error) {
                return Frame{CallResultError{std::move(id), std::move(code.get_ref<std::string&>()),
                                             std::move(description.get_ref<std::string&>()),
                                             std::move(details)}};
            }
            return Frame{CallError{std::move(id), std::move(code.get_ref<std::string&>()),
                                   std::move(description.get_ref<std::string&>()),
                                   std::move(details)}};
        }
    }
    return fail(Errc::internal_error, "unreachable message type");
}

std::string serialize(const Call& call) {
    json frame = json::array({static_cast<int>(MessageType::call), call.id.get(), call.action,
                              call.payload});
    return write_json(frame);
}

std::string serialize(const CallResult& result) {
    json frame =
        json::array({static_cast<int>(MessageType::call_result), result.id.get(), result.payload});
    return write_json(frame);
}

std::string serialize_call_result(const MessageId& id, std::string_view payload_json) {
    std::string frame = "[3,";
    append_json_string(frame, id.get());
    frame.push_back(',');
    frame += payload_json;
    frame.push_back(']');
    return frame;
}

std::string serialize(const CallError& error) {
    json frame = json::array({static_cast<int>(MessageType::call_error), error.id.get(),
                              error.code, truncate_utf8(error.description), error.details});
    return write_json(frame);
}

std::string serialize(const Send& send) {
    json frame = json::array({static_cast<int>(MessageType::send), send.id.get(), send.action,
                              send.payload});
    return write_json(frame);
}

std::string serialize(const CallResultError& error) {
    json frame = json::array({static_cast<int>(MessageType::call_result_error), error.id.get(),
                              error.code, truncate_utf8(error.description), error.details});
    return write_json(frame);
}

CallError make_call_error(std::string_view id, CallErrorCode code, ProtocolVersion version,
                          std::string_view description, nlohmann::json details) {
    return CallError{MessageId(std::string(id)), std::string(wire_name(code, version)),
                     truncate_utf8(description), std::move(details)};
}

}  // namespace ocpp
