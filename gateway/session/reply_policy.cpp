#include "gateway/session/reply_policy.hpp"

#include <map>

#include "ocpp/json_writer.hpp"

namespace gateway::session {
namespace {

using json = nlohmann::json;
using decisions::Decision;
using decisions::Source;
using ocpp::ProtocolVersion;

constexpr std::string_view kAuthorization = "authorization";
constexpr std::string_view kBoot = "boot";
// 1.6 parentIdTag is an IdToken of at most 20 characters.
constexpr std::size_t kMaxIdTag16 = 20;

/// Whether an entry's group can go into a 2.0.1 answer: its IdTokenType has 36 characters at
/// most and a type 2.0.1 knows.
bool fits_v201(const decisions::TokenEntry& e) {
    return ocpp::utf8_characters(e.group_id_token) <= 36 && decisions::is_v201_token_type(e.group_type);
}

}  // namespace

bool ReplyPolicy::needs_transaction_id(ProtocolVersion v, std::string_view action) {
    return v == ProtocolVersion::v16 && action == "StartTransaction";
}

std::optional<ReplyPolicy::Question> ReplyPolicy::question(ProtocolVersion v, std::string_view action,
                                                          ocpp::EventClass event_class,
                                                          const json& payload) const {
    using Ask = config::Config::Reply::Ask;
    if (settings_.ask == Ask::never || settings_.ask_classes.count(event_class) == 0) {
        return std::nullopt;
    }
    Question q;
    if (v == ProtocolVersion::v16) {
        if (action != "Authorize" && action != "StartTransaction" && action != "StopTransaction") {
            return std::nullopt;
        }
        q.token = payload.value("idTag", "");
    } else {
        if (action != "Authorize" && action != "TransactionEvent") {
            return std::nullopt;
        }
        const auto token = payload.find("idToken");
        if (token == payload.end() || !token->is_object()) {
            return std::nullopt;
        }
        q.token = token->value("idToken", "");
        q.type = token->value("type", "");
        if (q.type == "NoAuthorization") {
            return std::nullopt;
        }
    }
    if (q.token.empty()) {
        return std::nullopt;
    }
    const auto entry = tokens_ != nullptr ? tokens_->find(q.token, q.type) : std::nullopt;
    if (entry) {
        if (settings_.ask == Ask::unknown) {
            return std::nullopt;
        }
        q.table_status = entry->status;
    }
    return q;
}

Decision ReplyPolicy::decide_token(const std::string& token, std::string_view type, const Request& r,
                                   std::optional<decisions::TokenEntry>& entry) const {
    auto status_of = [&r](const decisions::TokenEntry& e) {
        return e.expires_at_ms && *e.expires_at_ms <= r.now.unix_ms ? std::string("Expired") : e.status;
    };
    if (r.asked != nullptr && r.asked->decision) {
        entry = r.asked->decision;
        Decision d{kAuthorization, Source::ask, status_of(*entry)};
        d.request_id = r.asked->request_id;
        return d;
    }
    entry = tokens_ != nullptr ? tokens_->find(token, type) : std::nullopt;
    Decision d = entry ? Decision{kAuthorization, Source::table, status_of(*entry)}
                       : Decision{kAuthorization, Source::policy, settings_.unknown_token_status};
    if (r.asked != nullptr) {
        d.request_id = r.asked->request_id;
        d.fallback = d.source;
        d.source = Source::timeout_fallback;
    }
    return d;
}

json ReplyPolicy::id_tag_info(const Request& r, Answer& answer) const {
    const auto tag = r.payload.find("idTag");
    const std::string token = tag != r.payload.end() && tag->is_string() ? tag->get<std::string>() : "";
    std::optional<decisions::TokenEntry> entry;
    Decision decision = decide_token(token, "", r, entry);
    json info{{"status", decisions::status_for_v16(decision.status)}};
    if (entry && decision.status == entry->status) {
        if (!entry->expires_at.empty()) {
            info["expiryDate"] = entry->expires_at;
        }
        if (!entry->group_id_token.empty() && ocpp::utf8_characters(entry->group_id_token) <= kMaxIdTag16) {
            info["parentIdTag"] = entry->group_id_token;
        }
    }
    answer.decision = std::move(decision);
    return info;
}

json ReplyPolicy::id_token_info(const Request& r, Answer& answer) const {
    const auto token = r.payload.find("idToken");
    std::string value;
    std::string type;
    if (token != r.payload.end() && token->is_object()) {
        value = token->value("idToken", "");
        type = token->value("type", "");
    }
    if (type == "NoAuthorization") {
        // No identity to check: the station charges without authorization (free charging).
        answer.decision = Decision{kAuthorization, Source::no_authorization, "Accepted"};
        return json{{"status", "Accepted"}};
    }
    std::optional<decisions::TokenEntry> entry;
    Decision decision = decide_token(value, type, r, entry);
    json info{{"status", decision.status}};
    if (entry && decision.status == entry->status) {
        if (!entry->expires_at.empty()) {
            info["cacheExpiryDateTime"] = entry->expires_at;
        }
        if (!entry->group_id_token.empty() && (r.version != ProtocolVersion::v201 || fits_v201(*entry))) {
            info["groupIdToken"] = json{{"idToken", entry->group_id_token}, {"type", entry->group_type}};
        }
        if (!entry->personal_message.is_null()) {
            info["personalMessage"] = entry->personal_message;
        }
        if (!entry->language.empty()) {
            info["language1"] = entry->language;
        }
    }
    answer.decision = std::move(decision);
    return info;
}

std::string ReplyPolicy::boot_status(std::string_view station_id) const {
    if (registry_ != nullptr) {
        if (const auto entry = registry_->find(station_id); entry && !entry->boot_status.empty()) {
            return entry->boot_status;
        }
    }
    return settings_.boot_default_status;
}

std::chrono::seconds ReplyPolicy::heartbeat_interval(std::string_view station_id) const {
    if (registry_ != nullptr) {
        if (const auto entry = registry_->find(station_id); entry && entry->heartbeat_interval) {
            return *entry->heartbeat_interval;
        }
    }
    return settings_.heartbeat_interval;
}

json ReplyPolicy::boot(const Request& r, Answer& answer) const {
    std::optional<security::StationCredential> entry =
        registry_ != nullptr ? registry_->find(r.station_id) : std::nullopt;
    Decision decision{kBoot, Source::policy, settings_.boot_default_status};
    auto interval = settings_.heartbeat_interval;
    if (entry && !entry->boot_status.empty()) {
        decision = Decision{kBoot, Source::registry, entry->boot_status};
    }
    if (decision.status != "Accepted") {
        // Pending / Rejected: the interval is when the station should boot again.
        interval = settings_.boot_retry_interval;
    } else if (entry && entry->heartbeat_interval) {
        interval = *entry->heartbeat_interval;
    }
    json reply{{"status", decision.status}, {"currentTime", r.now.text}, {"interval", interval.count()}};
    answer.decision = std::move(decision);
    return reply;
}

ReplyPolicy::Answer ReplyPolicy::reply(ProtocolVersion v, std::string_view action,
                                       std::string_view station_id, const json& payload,
                                       std::optional<std::int64_t> transaction_id,
                                       const Now& now, const Asked* asked) const {
    using Builder = json (*)(const ReplyPolicy&, const Request&, Answer&);
    // The one table of replies that carry something; every other station-initiated action
    // is a notification whose confirmation is an empty object.
    static const std::map<std::string_view, Builder> kReplies = {
        {"BootNotification", [](const ReplyPolicy& p, const Request& r, Answer& a) { return p.boot(r, a); }},
        {"Heartbeat",
         [](const ReplyPolicy&, const Request& r, Answer&) { return json{{"currentTime", r.now.text}}; }},
        {"Authorize",
         [](const ReplyPolicy& p, const Request& r, Answer& a) {
             return r.version == ProtocolVersion::v16 ? json{{"idTagInfo", p.id_tag_info(r, a)}}
                                                      : json{{"idTokenInfo", p.id_token_info(r, a)}};
         }},
        {"StartTransaction",
         [](const ReplyPolicy& p, const Request& r, Answer& a) {
             return json{{"transactionId", r.transaction_id.value_or(0)},
                         {"idTagInfo", p.id_tag_info(r, a)}};
         }},
        {"StopTransaction",
         [](const ReplyPolicy& p, const Request& r, Answer& a) {
             return r.payload.contains("idTag") ? json{{"idTagInfo", p.id_tag_info(r, a)}}
                                                : json::object();
         }},
        {"TransactionEvent",
         [](const ReplyPolicy& p, const Request& r, Answer& a) {
             return r.payload.contains("idToken") ? json{{"idTokenInfo", p.id_token_info(r, a)}}
                                                  : json::object();
         }},
        {"DataTransfer",
         [](const ReplyPolicy& p, const Request&, Answer&) {
             return json{{"status", p.settings_.data_transfer_status}};
         }},
        // Recorded and handed on through Kafka: the operator's back office acts on them.
        {"SignCertificate", [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Accepted"}}; }},
        {"NotifyEVChargingNeeds", [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Accepted"}}; }},
        {"NotifyEVChargingSchedule", [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Accepted"}}; }},
        // The gateway holds no certificate authority; stations fall back gracefully.
        {"Get15118EVCertificate",
         [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Failed"}, {"exiResponse", ""}}; }},
        {"GetCertificateStatus", [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Failed"}}; }},
        // OCPP 2.1. Certificate chains: as GetCertificateStatus, each asked-for certificate.
        {"GetCertificateChainStatus",
         [](const ReplyPolicy&, const Request& r, Answer&) {
             json statuses = json::array();
             for (const auto& asked : r.payload.value("certificateStatusRequests", json::array())) {
                 statuses.push_back({{"certificateHashData", asked.value("certificateHashData", json::object())},
                                     {"source", asked.value("source", "OCSP")},
                                     {"status", "Failed"},
                                     {"nextUpdate", r.now.text}});
             }
             return json{{"certificateStatus", std::move(statuses)}};
         }},
        // The stream's data arrives as SEND messages, recorded like any other event.
        {"OpenPeriodicEventStream", [](const ReplyPolicy&, const Request&, Answer&) { return json{{"status", "Accepted"}}; }},
        // Schedules come from the operator (UpdateDynamicSchedule as a command), not the gateway.
        {"PullDynamicScheduleUpdate",
         [](const ReplyPolicy&, const Request&, Answer&) {
             return json{{"status", "Rejected"},
                         {"statusInfo", {{"reasonCode", "NoSchedule"},
                                         {"additionalInfo", "schedules are sent by the operator"}}}};
         }},
        // The gateway validates no VAT numbers: the station falls back to its own handling.
        {"VatNumberValidation",
         [](const ReplyPolicy&, const Request& r, Answer&) {
             return json{{"vatNumber", r.payload.value("vatNumber", "")},
                         {"status", "Rejected"},
                         {"statusInfo", {{"reasonCode", "NotSupported"},
                                         {"additionalInfo", "VAT numbers are not validated"}}}};
         }},
    };
    Answer answer;
    const auto it = kReplies.find(action);
    answer.reply = it == kReplies.end()
                       ? json::object()
                       : it->second(*this, Request{v, station_id, payload, transaction_id, now, asked}, answer);
    return answer;
}

}  // namespace gateway::session
