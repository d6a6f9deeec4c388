#include "kafka_bridge/envelope.hpp"

#include <openssl/evp.h>

#include "kafka_bridge/commands.hpp"
#include "ocpp/errors.hpp"

#include <chrono>
#include <cstdio>
#include <random>

namespace kafka_bridge {
namespace {

using json = nlohmann::json;

constexpr auto kDump = json::error_handler_t::replace;

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0U) == 0xC0U) {
            n = 1;
            cp = c & 0x1FU;
        } else if ((c & 0xF0U) == 0xE0U) {
            n = 2;
            cp = c & 0x0FU;
        } else if ((c & 0xF8U) == 0xF0U) {
            n = 3;
            cp = c & 0x07U;
        } else {
            return false;
        }
        if (i + n >= s.size()) {
            return false;  // truncated sequence
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0U) != 0x80U) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        const bool overlong = (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
                              (n == 3 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// Appends `s` as a JSON string, as nlohmann's dump() writes it: '"', '\\' and control
/// characters escaped, everything else as is; text that is not UTF-8 goes through dump() for
/// its U+FFFD replacement.
void append_json_string(std::string& out, std::string_view s) {
    if (!valid_utf8(s)) {
        out += json(std::string(s)).dump(-1, ' ', false, kDump);
        return;
    }
    out.push_back('"');
    for (const char ch : s) {
        switch (ch) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char escaped[8];
                    std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(ch));
                    out += escaped;
                } else {
                    out.push_back(ch);
                }
        }
    }
    out.push_back('"');
}

json session_fields(const SessionInfo& s) {
    return json{{"stationId", s.station_id},
                {"gatewayId", s.gateway_id},
                {"sessionId", s.session_id},
                {"ocppVersion", std::string(ocpp::version_label(s.version))}};
}

}  // namespace

std::string new_uuid() {
    thread_local std::mt19937_64 rng{std::random_device{}() ^
                                     static_cast<std::uint64_t>(
                                         std::chrono::steady_clock::now().time_since_epoch().count())};
    std::uint64_t hi = rng();
    std::uint64_t lo = rng();
    hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
    lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
    char buffer[37];
    std::snprintf(buffer, sizeof(buffer), "%08x-%04x-%04x-%04x-%012llx",
                  static_cast<unsigned>(hi >> 32U), static_cast<unsigned>((hi >> 16U) & 0xFFFFU),
                  static_cast<unsigned>(hi & 0xFFFFU), static_cast<unsigned>(lo >> 48U),
                  static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
    return buffer;
}

std::string now_rfc3339() { return format_time_ms(unix_now_ms()); }

std::string sha256_hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kHex[digest[i] >> 4U]);
        out.push_back(kHex[digest[i] & 0x0FU]);
    }
    return out;
}

namespace {

// True when the payload names its own moment or place in a series (a timestamp, a generation
// time or a sequence number), so equal content means a resend of one message. MeterValues
// carries its timestamps one level down (meterValue[].timestamp is required in every version).
bool self_identifying(std::string_view action, const json& payload) {
    if (action == "MeterValues") {
        return true;
    }
    return payload.is_object() &&
           (payload.contains("timestamp") || payload.contains("generatedAt") ||
            payload.contains("seqNo"));
}

// The dedup key, given the payload's canonical text (dumped once by the caller).
std::string dedup_key_of(std::string_view station_id, std::string_view action,
                         std::string_view message_id, const json& payload,
                         const std::string& payload_text) {
    std::string material(station_id);
    material.push_back('\n');
    material.append(action);
    material.push_back('\n');
    if (action == "TransactionEvent") {
        const auto info = payload.find("transactionInfo");
        const auto seq = payload.find("seqNo");
        if (info != payload.end() && info->is_object() && info->contains("transactionId") &&
            seq != payload.end()) {
            material += (*info)["transactionId"].dump(-1, ' ', false, kDump);
            material.push_back('\n');
            material += seq->dump(-1, ' ', false, kDump);
            return sha256_hex(material);
        }
    }
    if (!self_identifying(action, payload)) {
        // Equal content is no sign of a resend here (every Heartbeat is {}, a card is
        // presented again): only a resend under the same message id shares the key.
        material.append(message_id);
        material.push_back('\n');
    }
    material += payload_text;
    return sha256_hex(material);
}

}  // namespace

std::string dedup_key(std::string_view station_id, std::string_view action,
                      std::string_view message_id, const json& payload) {
    // nlohmann keeps object keys sorted, so dump() is canonical for equal content.
    return dedup_key_of(station_id, action, message_id, payload,
                        payload.dump(-1, ' ', false, kDump));
}

std::string station_event(const SessionInfo& session, std::string_view action,
                          ocpp::EventClass event_class, std::string_view message_id,
                          std::string_view received_at, std::uint64_t sequence,
                          const json& payload, std::string_view reply_json, const json& decision,
                          const ocpp::Repaired* repaired) {
    // Written directly, keys in the order nlohmann's sorted objects had them; the payload is
    // serialized once, for the dedup key and the record, and never copied.
    const std::string payload_text = payload.dump(-1, ' ', false, kDump);
    std::string text;
    text.reserve(384 + payload_text.size() + reply_json.size() + message_id.size());
    text += "{\"action\":";
    append_json_string(text, action);
    if (!decision.is_null()) {
        text += ",\"decision\":";
        text += decision.dump(-1, ' ', false, kDump);
    }
    text += ",\"dedupKey\":\"";
    text += dedup_key_of(session.station_id, action, message_id, payload, payload_text);
    text += '"';
    text += ",\"eventClass\":\"";
    text += ocpp::event_class_name(event_class);
    text += "\",\"eventId\":\"";
    text += new_uuid();
    text += "\",\"gatewayId\":";
    append_json_string(text, session.gateway_id);
    text += ",\"messageId\":";
    append_json_string(text, message_id);
    if (reply_json.empty()) {
        text += ",\"messageType\":\"SEND\"";
    }
    text += ",\"ocppVersion\":\"";
    text += ocpp::version_label(session.version);
    text += "\",\"receivedAt\":";
    append_json_string(text, received_at);
    text += ",\"sequence\":";
    text += std::to_string(sequence);
    text += ",\"sessionId\":";
    append_json_string(text, session.session_id);
    text += ",\"stationId\":";
    append_json_string(text, session.station_id);
    if (repaired != nullptr) {
        text += ",\"tolerance\":{\"profile\":";
        append_json_string(text, repaired->profile);
        text += ",\"raw\":";
        append_json_string(text, repaired->raw);
        text += ",\"repairs\":";
        text += ocpp::repairs_json(repaired->repairs).dump(-1, ' ', false, kDump);
        text.push_back('}');
    }
    text += ",\"payload\":";
    text += payload_text;
    if (!reply_json.empty()) {
        text += ",\"reply\":";
        text += reply_json;
    }
    text.push_back('}');
    return text;
}

std::string connection_event(const SessionInfo& session, const ConnectionEvent& e,
                             std::string_view at) {
    json event = session_fields(session);
    event["eventId"] = new_uuid();
    event["type"] = e.type == ConnectionEvent::Type::connected ? "Connected" : "Disconnected";
    event["at"] = at;
    event["address"] = e.address;
    event["subprotocol"] = e.subprotocol ? json(*e.subprotocol) : json(nullptr);
    event["securityProfile"] = e.security_profile;
    if (e.type == ConnectionEvent::Type::disconnected) {
        event["reason"] = e.reason;
        event["closeCode"] = e.close_code;
        event["durationMs"] = e.duration_ms;
        event["messages"] = e.messages;
    }
    return event.dump(-1, ' ', false, kDump);
}

namespace {

void put_raw(json& record, std::string_view raw) {
    if (valid_utf8(raw)) {
        record["raw"] = ocpp::truncate_utf8(raw, kMaxDeadLetterRaw);
        record["rawEncoding"] = "utf-8";
    } else {
        record["raw"] = base64(raw.substr(0, kMaxDeadLetterRaw));
        record["rawEncoding"] = "base64";
    }
    record["rawBytes"] = raw.size();
}

}  // namespace

std::string dead_letter(const SessionInfo& session, const DeadLetter& letter,
                        std::string_view received_at) {
    json record = session_fields(session);
    record["eventId"] = new_uuid();
    record["receivedAt"] = received_at;
    put_raw(record, letter.raw);
    record["reason"] = letter.reason;
    record["errorCode"] = letter.error_code ? json(*letter.error_code) : json(nullptr);
    record["messageId"] = letter.message_id;
    record["action"] = letter.action ? json(*letter.action) : json(nullptr);
    if (!letter.tolerance_profile.empty()) {
        record["toleranceProfile"] = letter.tolerance_profile;
    }
    if (letter.station_model) {
        record["stationModel"] = *letter.station_model;
    }
    if (letter.would_repair) {
        record["wouldRepair"] = *letter.would_repair;
    }
    return record.dump(-1, ' ', false, kDump);
}

std::string command_dead_letter(const CommandLetter& letter, std::string_view gateway_id,
                                std::string_view received_at) {
    json record = {{"eventId", new_uuid()},
                   {"source", "command"},
                   {"gatewayId", gateway_id},
                   {"receivedAt", received_at},
                   {"topic", letter.topic},
                   {"partition", letter.partition},
                   {"offset", letter.offset},
                   {"key", letter.key ? json(*letter.key) : json(nullptr)},
                   {"reason", letter.reason}};
    put_raw(record, letter.raw);
    return record.dump(-1, ' ', false, kDump);
}

std::string security_event(const SecurityEvent& event, std::string_view gateway_id,
                           std::string_view at) {
    json record = {{"eventId", new_uuid()},
                   {"source", "gateway"},
                   {"type", event.type},
                   {"address", event.address},
                   {"detail", event.detail},
                   {"gatewayId", gateway_id},
                   {"at", at}};
    record["stationId"] = event.station_id.empty() ? json(nullptr) : json(event.station_id);
    return record.dump(-1, ' ', false, kDump);
}

}  // namespace kafka_bridge
