#include "kafka_bridge/envelope.hpp"

#include <openssl/evp.h>

#include "kafka_bridge/commands.hpp"
#include "ocpp/errors.hpp"
#include "ocpp/json_writer.hpp"

#include <chrono>
#include <initializer_list>
#include <memory>
#include <new>
#include <random>
#include <stdexcept>

namespace kafka_bridge {
namespace {

using json = nlohmann::json;

constexpr char kHexDigits[] = "0123456789abcdef";

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

using ocpp::append_json_string;
using ocpp::valid_utf8;

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
    // 8-4-4-4-12 lowercase hex digits, most significant first.
    std::string out(36, '-');
    std::size_t at = 0;
    const auto put = [&out, &at](std::uint64_t bits, int digits) {
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
            out[at++] = kHexDigits[(bits >> static_cast<unsigned>(shift)) & 0x0FU];
        }
    };
    put(hi >> 32U, 8);
    ++at;
    put(hi >> 16U, 4);
    ++at;
    put(hi, 4);
    ++at;
    put(lo >> 48U, 4);
    ++at;
    put(lo, 12);
    return out;
}

std::string now_rfc3339() { return format_time_ms(unix_now_ms()); }

namespace {

// SHA-256 of the pieces one after the other, in hex. The digest is fetched once and each
// thread keeps a context: EVP_sha256() in EVP_Digest made OpenSSL 3 look the implementation
// up by name, under a lock, and allocate a context for every record's dedup key.
std::string sha256_hex_of(std::initializer_list<std::string_view> pieces) {
    static const EVP_MD* const md = [] {
        const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
        return fetched != nullptr ? fetched : EVP_sha256();
    }();
    thread_local const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx) {
        throw std::bad_alloc();
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    bool ok = EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1;
    for (const std::string_view piece : pieces) {
        ok = ok && EVP_DigestUpdate(ctx.get(), piece.data(), piece.size()) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx.get(), digest, &length) == 1;
    if (!ok) {
        throw std::runtime_error("OpenSSL could not compute a SHA-256 digest");
    }
    std::string out(2 * std::size_t{length}, '0');
    for (unsigned int i = 0; i < length; ++i) {
        out[2 * i] = kHexDigits[digest[i] >> 4U];
        out[2 * i + 1] = kHexDigits[digest[i] & 0x0FU];
    }
    return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) { return sha256_hex_of({data}); }

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
            ocpp::append_json(material, (*info)["transactionId"]);
            material.push_back('\n');
            ocpp::append_json(material, *seq);
            return sha256_hex(material);
        }
    }
    if (!self_identifying(action, payload)) {
        // Equal content is no sign of a resend here (every Heartbeat is {}, a card is
        // presented again): only a resend under the same message id shares the key.
        material.append(message_id);
        material.push_back('\n');
    }
    return sha256_hex_of({material, payload_text});
}

}  // namespace

std::string dedup_key(std::string_view station_id, std::string_view action,
                      std::string_view message_id, const json& payload) {
    // nlohmann keeps object keys sorted, so the compact text is canonical for equal content.
    return dedup_key_of(station_id, action, message_id, payload, ocpp::write_json(payload));
}

std::string station_event(const SessionInfo& session, std::string_view action,
                          ocpp::EventClass event_class, std::string_view message_id,
                          std::string_view received_at, std::uint64_t sequence,
                          const json& payload, std::string_view reply_json, const json& decision,
                          const ocpp::Repaired* repaired) {
    // Written directly, keys in the order nlohmann's sorted objects had them; the payload is
    // serialized once, for the dedup key and the record, and never copied.
    const std::string payload_text = ocpp::write_json(payload);
    std::string text;
    text.reserve(384 + payload_text.size() + reply_json.size() + message_id.size());
    text += "{\"action\":";
    append_json_string(text, action);
    if (!decision.is_null()) {
        text += ",\"decision\":";
        ocpp::append_json(text, decision);
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
        ocpp::append_json(text, ocpp::repairs_json(repaired->repairs));
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
    return ocpp::write_json(event);
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
    return ocpp::write_json(record);
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
    return ocpp::write_json(record);
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
    return ocpp::write_json(record);
}

}  // namespace kafka_bridge
