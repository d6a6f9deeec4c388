#include "gateway/decisions/token_table.hpp"

#include <algorithm>
#include <array>
#include <mutex>

#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/record_json.hpp"
#include "ocpp/json_writer.hpp"
#include "ocpp/types.hpp"

namespace gateway::decisions {
namespace {

using json = nlohmann::json;

// AuthorizationStatusEnumType of 2.0.1; the first five are 1.6's AuthorizationStatus.
constexpr std::array<std::string_view, 10> kStatuses = {
    "Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx",
    "NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime", "Unknown"};
constexpr std::size_t kV16Statuses = 5;

// OCPP 2.1's IdTokenEnumStringType: 2.0.1's eight and DirectPayment, EVCCID, VIN.
constexpr std::array<std::string_view, 11> kTokenTypes = {
    "Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization",
    "DirectPayment", "EVCCID", "VIN"};
constexpr std::size_t kV201TokenTypes = 8;
constexpr std::array<std::string_view, 4> kMessageFormats = {"ASCII", "HTML", "URI", "UTF8"};

// Bounds of the reply fields the entry fills (IdTokenType.idToken, MessageContentType): 2.1's,
// the longest (2.0.1 allows 36, 1.6 20; a longer entry never matches such a station's token).
constexpr std::size_t kMaxToken = 255;
constexpr std::size_t kMaxMessage = 512;
constexpr std::size_t kMaxLanguage = 8;

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& set, std::string_view v) {
    return std::find(set.begin(), set.end(), v) != set.end();
}

/// The string field `name` of `doc` into `out`: absent is fine, anything but a string of at
/// most `max` characters is a problem.
std::optional<std::string> optional_text(const json& doc, const char* name, std::size_t max,
                                         std::string& out) {
    const auto it = doc.find(name);
    if (it == doc.end() || it->is_null()) {
        return std::nullopt;
    }
    if (!it->is_string()) {
        return std::string(name) + " is not a string";
    }
    out = it->get<std::string>();
    if (ocpp::utf8_characters(out) > max) {
        return std::string(name) + " is longer than " + std::to_string(max) + " characters";
    }
    return std::nullopt;
}

std::optional<std::string> read_group(const json& doc, TokenEntry& e) {
    const auto it = doc.find("groupIdToken");
    if (it == doc.end() || it->is_null()) {
        return std::nullopt;
    }
    if (it->is_string()) {
        e.group_id_token = it->get<std::string>();
        e.group_type = "Central";
    } else if (it->is_object()) {
        if (auto bad = optional_text(*it, "idToken", kMaxToken, e.group_id_token)) {
            return "groupIdToken." + *bad;
        }
        if (auto bad = optional_text(*it, "type", kMaxToken, e.group_type)) {
            return "groupIdToken." + *bad;
        }
        if (e.group_type.empty()) {
            e.group_type = "Central";
        }
        if (!one_of(kTokenTypes, e.group_type)) {
            return "groupIdToken.type \"" + e.group_type + "\" is not an OCPP token type";
        }
    } else {
        return std::string("groupIdToken is neither a string nor {idToken, type}");
    }
    if (e.group_id_token.empty() || ocpp::utf8_characters(e.group_id_token) > kMaxToken) {
        return std::string("groupIdToken.idToken must have 1 to 255 characters");
    }
    return std::nullopt;
}

std::optional<std::string> read_message(const json& doc, TokenEntry& e) {
    const auto it = doc.find("personalMessage");
    if (it == doc.end() || it->is_null()) {
        return std::nullopt;
    }
    json message{{"format", "UTF8"}};
    std::string content;
    if (it->is_string()) {
        content = it->get<std::string>();
    } else if (it->is_object()) {
        std::string format;
        std::string language;
        if (auto bad = optional_text(*it, "content", SIZE_MAX, content)) {
            return "personalMessage." + *bad;
        }
        if (auto bad = optional_text(*it, "format", 16, format)) {
            return "personalMessage." + *bad;
        }
        if (auto bad = optional_text(*it, "language", kMaxLanguage, language)) {
            return "personalMessage." + *bad;
        }
        if (!format.empty()) {
            if (!one_of(kMessageFormats, format)) {
                return "personalMessage.format \"" + format + "\" is not ASCII, HTML, URI or UTF8";
            }
            message["format"] = format;
        }
        if (!language.empty()) {
            message["language"] = language;
        }
    } else {
        return std::string("personalMessage is neither a string nor {format, language, content}");
    }
    if (ocpp::utf8_characters(content) > kMaxMessage) {
        return std::string("personalMessage is longer than 512 characters");
    }
    message["content"] = content;
    e.personal_message = std::move(message);
    return std::nullopt;
}

}  // namespace

std::optional<std::string> read_token_entry(const nlohmann::json& doc,
                                            const std::optional<std::string>& key, TokenEntry& e) {
    if (auto bad = optional_text(doc, "idToken", kMaxToken, e.id_token)) {
        return bad;
    }
    if (key && e.id_token.empty()) {
        e.id_token = *key;
    } else if (key && ocpp::ascii_lower(e.id_token) != ocpp::ascii_lower(*key)) {
        return "idToken \"" + e.id_token + "\" is not the record's key";
    }
    if (auto bad = optional_text(doc, "type", kMaxToken, e.type)) {
        return bad;
    }
    if (e.type == "*") {
        e.type.clear();
    }
    if (!e.type.empty() && !one_of(kTokenTypes, e.type)) {
        return "type \"" + e.type + "\" is not an OCPP token type (or \"*\")";
    }
    if (auto bad = optional_text(doc, "status", 32, e.status)) {
        return bad;
    }
    if (!is_authorization_status(e.status)) {
        return e.status.empty() ? std::string("status is missing")
                                : "status \"" + e.status + "\" is not an OCPP authorization status";
    }
    if (auto bad = optional_text(doc, "expiresAt", 64, e.expires_at)) {
        return bad;
    }
    if (!e.expires_at.empty()) {
        e.expires_at_ms = kafka_bridge::parse_time_ms(e.expires_at);
        if (!e.expires_at_ms) {
            return "expiresAt \"" + e.expires_at + "\" is not an RFC 3339 date-time";
        }
        // The stations get it as the gateway writes times: UTC with milliseconds.
        e.expires_at = kafka_bridge::format_time_ms(*e.expires_at_ms);
    }
    if (auto bad = read_group(doc, e)) {
        return bad;
    }
    if (auto bad = read_message(doc, e)) {
        return bad;
    }
    return optional_text(doc, "language", kMaxLanguage, e.language);
}

bool is_authorization_status(std::string_view status) { return one_of(kStatuses, status); }

bool is_v201_token_type(std::string_view type) {
    return std::find(kTokenTypes.begin(), kTokenTypes.begin() + kV201TokenTypes, type) !=
           kTokenTypes.begin() + kV201TokenTypes;
}

std::string_view status_for_v16(std::string_view status) {
    const auto it = std::find(kStatuses.begin(), kStatuses.end(), status);
    return it != kStatuses.end() && it < kStatuses.begin() + kV16Statuses ? *it : "Invalid";
}

std::optional<std::string> TokenTable::apply_record(const std::string& key,
                                                    const std::optional<std::string>& value,
                                                    std::chrono::system_clock::time_point now,
                                                    std::int32_t partition,
                                                    std::int64_t timestamp_ms) {
    last_applied_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    if (key.empty() || !ocpp::valid_utf8(key) || ocpp::utf8_characters(key) > kMaxToken) {
        ++rejected_;
        return "key " + ocpp::quote(key) + " is not a token (1 to 255 characters)";
    }
    TokenEntry entry;
    if (value) {
        auto read = kafka_bridge::read_record_json(*value);
        std::optional<std::string> bad;
        if (!read.ok()) {
            bad = "value is not a JSON object: " + read.error();
        } else if (!read.value().is_object()) {
            bad = "value is not a JSON object";
        } else {
            bad = read_token_entry(read.value(), key, entry);
        }
        if (bad) {
            ++rejected_;
            return bad;
        }
    }
    const std::string token = ocpp::ascii_lower(key);
    const auto origin = kafka_bridge::RecordOrigin::of(key, partition, timestamp_ms);
    std::unique_lock<std::shared_mutex> lock(mutex_);
    const std::int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    deleted_.expire(now_ms);
    const auto entry_it = entries_.find(token);
    const auto kept =
        deleted_.judge(token, entry_it != entries_.end() ? &entry_it->second.origin : nullptr, origin);
    if (!kept) {
        ++rejected_;
        return "older than the record that stands for this token under another spelling or "
               "from another partition (write each token under one spelling)";
    }
    if (!value) {
        if (entry_it != entries_.end()) {
            entries_.erase(entry_it);
        }
        deleted_.remember(token, *kept, now_ms);
        return std::nullopt;
    }
    deleted_.forget(token);
    entries_[token] = Stored{std::move(entry), *kept};
    return std::nullopt;
}

std::optional<TokenEntry> TokenTable::find(std::string_view token, std::string_view type) const {
    const std::string key = ocpp::ascii_lower(token);
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() ||
        (!type.empty() && !it->second.entry.type.empty() && it->second.entry.type != type)) {
        return std::nullopt;
    }
    return it->second.entry;
}

std::size_t TokenTable::size() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return entries_.size();
}

std::optional<std::chrono::system_clock::time_point> TokenTable::last_applied() const {
    const auto ms = last_applied_ms_.load();
    if (ms < 0) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace gateway::decisions
