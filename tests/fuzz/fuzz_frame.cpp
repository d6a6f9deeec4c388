// ocpp::parse_frame on hostile text with the default FrameLimits.
//   parsed   → serialize → parse again must succeed and give an equal frame
//              (a CALLERROR description comes back cut to 255 bytes, as serialize cuts it);
//   refused  → the CALLERROR the gateway would answer with, for each version, must itself be
//              a frame that serializes and parses back with the same id and code.
#include <limits>
#include <string>
#include <variant>

#include "fuzz_support.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/inbound.hpp"

namespace {

using nlohmann::json;
using ocpp::Call;
using ocpp::CallError;
using ocpp::CallResult;
using ocpp::Frame;

// The serialized text of a parsed frame may be longer than its source ("1e5" → "100000.0"), so
// the second parse lifts the size limit; the depth limit stays.
const ocpp::FrameLimits kRoundTripLimits{std::numeric_limits<std::size_t>::max(),
                                         ocpp::FrameLimits{}.max_depth};

bool same_json(const json& a, const json& b) { return a == b && a.dump() == b.dump(); }

std::string serialize_frame(const Frame& frame) {
    return std::visit([](const auto& f) { return ocpp::serialize(f); }, frame);
}

bool equal_after_round_trip(const Frame& original, const Frame& again) {
    if (original.index() != again.index()) {
        return false;
    }
    if (const auto* a = std::get_if<Call>(&original)) {
        const auto& b = std::get<Call>(again);
        return a->id == b.id && a->action == b.action && same_json(a->payload, b.payload);
    }
    if (const auto* a = std::get_if<CallResult>(&original)) {
        const auto& b = std::get<CallResult>(again);
        return a->id == b.id && same_json(a->payload, b.payload);
    }
    const auto& a = std::get<CallError>(original);
    const auto& b = std::get<CallError>(again);
    return a.id == b.id && a.code == b.code && ocpp::truncate_utf8(a.description) == b.description &&
           same_json(a.details, b.details);
}

bool is_ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            return false;
        }
    }
    return true;
}

void check_refusal(const ocpp::FrameError& error) {
    fuzz::require(error.message_id == ocpp::kUnreadableMessageId ||
                      (!error.message_id.empty() &&
                       error.message_id.size() <= ocpp::kMaxMessageIdLength),
                  "FrameError message id is \"-1\" or 1..36 bytes");
    fuzz::require(is_ascii(error.detail), "FrameError detail is ASCII");
    for (const auto v : ocpp::kAllVersions) {
        const ocpp::Rejection rejection = ocpp::reject_frame(v, error);
        fuzz::require(rejection.answerable == error.answerable(), "reject_frame keeps answerable");
        fuzz::require(rejection.message_id == error.message_id, "reject_frame keeps the id");
        fuzz::require(rejection.description.size() <= ocpp::kMaxErrorDescription,
                      "rejection description at most 255 bytes");
        const CallError reply = rejection.to_call_error(v);
        const std::string text = ocpp::serialize(reply);
        auto back = ocpp::parse_frame(text);
        fuzz::require(back.ok(), "the CALLERROR answering a refused frame parses");
        const auto* parsed = std::get_if<CallError>(&back.value());
        fuzz::require(parsed != nullptr, "the CALLERROR answering a refused frame is a CALLERROR");
        fuzz::require(parsed->id.get() == error.message_id, "CALLERROR carries the frame's id");
        fuzz::require(parsed->code == ocpp::wire_name(rejection.code, v),
                      "CALLERROR carries the version's code");
        fuzz::require(ocpp::parse_call_error_code(parsed->code, v).has_value(),
                      "CALLERROR code is a code of the version");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    auto parsed = ocpp::parse_frame(text);
    if (!parsed.ok()) {
        check_refusal(parsed.error());
        return 0;
    }
    const Frame& frame = parsed.value();
    const std::string serialized = serialize_frame(frame);
    fuzz::require(fuzz::valid_utf8(serialized), "serialized frame is UTF-8");
    auto again = ocpp::parse_frame(serialized, kRoundTripLimits);
    fuzz::require(again.ok(), "a serialized frame parses again");
    fuzz::require(equal_after_round_trip(frame, again.value()),
                  "serialize → parse gives an equal frame");
    // Serialization is a fixed point after one round.
    fuzz::require(serialize_frame(again.value()) == serialized, "serialize is stable");
    return 0;
}
