// ocpp::parse_frame on hostile text with the default FrameLimits, read as 1.6 / 2.0.1 (one
// grammar) and as 2.1 (message types 5 and 6 too).
//   parsed   → serialize → parse again must succeed and give an equal frame
//              (a CALLERROR description comes back cut to 255 bytes, as serialize cuts it);
//   refused  → the answer the gateway would send, for each version, must itself be a frame that
//              serializes and parses back with the same id and code: a CALLERROR, or in 2.1 a
//              CALLRESULTERROR for a broken CALLRESULT (the only refusal 2.1 answers that
//              1.6 / 2.0.1 leave unanswered).
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/inbound.hpp"

namespace {

using nlohmann::json;
using ocpp::Call;
using ocpp::CallError;
using ocpp::CallResult;
using ocpp::Frame;
using ocpp::ProtocolVersion;

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
    if (const auto* a = std::get_if<ocpp::Send>(&original)) {
        const auto& b = std::get<ocpp::Send>(again);
        return a->id == b.id && a->action == b.action && same_json(a->payload, b.payload);
    }
    auto same_error = [](const auto& a, const auto& b) {
        return a.id == b.id && a.code == b.code && ocpp::truncate_utf8(a.description) == b.description &&
               same_json(a.details, b.details);
    };
    if (const auto* a = std::get_if<ocpp::CallResultError>(&original)) {
        return same_error(*a, std::get<ocpp::CallResultError>(again));
    }
    return same_error(std::get<CallError>(original), std::get<CallError>(again));
}

bool is_ascii(std::string_view s) {
    for (const char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) {
            return false;
        }
    }
    return true;
}

// The versions that read frames as `read_as` does.
std::vector<ProtocolVersion> versions_reading_as(ProtocolVersion read_as) {
    if (read_as == ProtocolVersion::v21) {
        return {ProtocolVersion::v21};
    }
    return {ProtocolVersion::v16, ProtocolVersion::v201};
}

void check_refusal(const ocpp::FrameError& error, ProtocolVersion read_as) {
    fuzz::require(error.message_id == ocpp::kUnreadableMessageId ||
                      (!error.message_id.empty() &&
                       error.message_id.size() <= ocpp::kMaxMessageIdLength),
                  "FrameError message id is \"-1\" or 1..36 bytes");
    fuzz::require(is_ascii(error.detail), "FrameError detail is ASCII");
    fuzz::require(error.rpc21 == (read_as == ProtocolVersion::v21), "FrameError says how it was read");
    for (const auto v : versions_reading_as(read_as)) {
        const ocpp::Rejection rejection = ocpp::reject_frame(v, error);
        const bool broken_result = v == ProtocolVersion::v21 && error.message_type == 3;
        fuzz::require(rejection.answerable == (error.answerable() || broken_result),
                      "reject_frame keeps answerable (2.1 also answers a broken CALLRESULT)");
        fuzz::require(rejection.about_result == broken_result,
                      "only a broken 2.1 CALLRESULT is answered with a CALLRESULTERROR");
        fuzz::require(rejection.message_id == error.message_id, "reject_frame keeps the id");
        fuzz::require(rejection.description.size() <= ocpp::kMaxErrorDescription,
                      "rejection description at most 255 bytes");
        auto back = ocpp::parse_frame(rejection.answer(v), {}, v);
        fuzz::require(back.ok(), "the answer to a refused frame parses");
        const auto* error_reply = std::get_if<CallError>(&back.value());
        const auto* result_reply = std::get_if<ocpp::CallResultError>(&back.value());
        fuzz::require(broken_result ? result_reply != nullptr : error_reply != nullptr,
                      "the answer to a refused frame is a CALLERROR (2.1 broken CALLRESULT: a CALLRESULTERROR)");
        const std::string id = error_reply != nullptr ? error_reply->id.get() : result_reply->id.get();
        const std::string code = error_reply != nullptr ? error_reply->code : result_reply->code;
        fuzz::require(id == error.message_id, "the answer carries the frame's id");
        fuzz::require(code == ocpp::wire_name(rejection.code, v), "the answer carries the version's code");
        fuzz::require(ocpp::parse_call_error_code(code, v).has_value(),
                      "the answer's code is a code of the version");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    for (const auto read_as : {ProtocolVersion::v16, ProtocolVersion::v21}) {
        auto parsed = ocpp::parse_frame(text, {}, read_as);
        if (!parsed.ok()) {
            check_refusal(parsed.error(), read_as);
            continue;
        }
        const Frame& frame = parsed.value();
        fuzz::require(read_as == ProtocolVersion::v21 ||
                          (!std::holds_alternative<ocpp::Send>(frame) &&
                           !std::holds_alternative<ocpp::CallResultError>(frame)),
                      "SEND and CALLRESULTERROR are read only as 2.1");
        const std::string serialized = serialize_frame(frame);
        fuzz::require(fuzz::valid_utf8(serialized), "serialized frame is UTF-8");
        auto again = ocpp::parse_frame(serialized, kRoundTripLimits, read_as);
        fuzz::require(again.ok(), "a serialized frame parses again");
        fuzz::require(equal_after_round_trip(frame, again.value()),
                      "serialize → parse gives an equal frame");
        // Serialization is a fixed point after one round.
        fuzz::require(serialize_frame(again.value()) == serialized, "serialize is stable");
    }
    return 0;
}
