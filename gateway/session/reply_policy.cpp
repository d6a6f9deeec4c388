#include "gateway/session/reply_policy.hpp"

#include <map>

namespace gateway::session {
namespace {

using json = nlohmann::json;
using ocpp::ProtocolVersion;

std::string status_text(bool accepted) { return accepted ? "Accepted" : "Invalid"; }

}  // namespace

bool ReplyPolicy::needs_transaction_id(ProtocolVersion v, std::string_view action) {
    return v == ProtocolVersion::v16 && action == "StartTransaction";
}

bool ReplyPolicy::token_accepted(const std::string& token) const {
    return settings_.authorize_accept_all || settings_.authorized_tokens.count(token) != 0;
}

json ReplyPolicy::id_tag_info(const json& payload) const {
    const auto tag = payload.find("idTag");
    const bool accepted = tag != payload.end() && tag->is_string() &&
                          token_accepted(tag->get<std::string>());
    return json{{"status", status_text(accepted)}};
}

json ReplyPolicy::id_token_info(const json& payload) const {
    const auto token = payload.find("idToken");
    bool accepted = false;
    if (token != payload.end() && token->is_object()) {
        const auto value = token->find("idToken");
        const auto type = token->find("type");
        // "NoAuthorization" tokens carry no identity to check (free charging).
        accepted = (type != token->end() && *type == "NoAuthorization") ||
                   (value != token->end() && value->is_string() &&
                    token_accepted(value->get<std::string>()));
    }
    return json{{"status", status_text(accepted)}};
}

json ReplyPolicy::reply(ProtocolVersion v, std::string_view action, const json& payload,
                        std::optional<std::int64_t> transaction_id,
                        const std::string& now) const {
    using Builder = json (*)(const ReplyPolicy&, const Request&);
    // The one table of replies that carry something; every other station-initiated action
    // is a notification whose confirmation is an empty object.
    static const std::map<std::string_view, Builder> kReplies = {
        {"BootNotification",
         [](const ReplyPolicy& p, const Request& r) {
             return json{{"status", "Accepted"},
                         {"currentTime", r.now},
                         {"interval", p.settings_.heartbeat_interval.count()}};
         }},
        {"Heartbeat", [](const ReplyPolicy&, const Request& r) { return json{{"currentTime", r.now}}; }},
        {"Authorize",
         [](const ReplyPolicy& p, const Request& r) {
             return r.version == ProtocolVersion::v16
                        ? json{{"idTagInfo", p.id_tag_info(r.payload)}}
                        : json{{"idTokenInfo", p.id_token_info(r.payload)}};
         }},
        {"StartTransaction",
         [](const ReplyPolicy& p, const Request& r) {
             return json{{"transactionId", r.transaction_id.value_or(0)},
                         {"idTagInfo", p.id_tag_info(r.payload)}};
         }},
        {"StopTransaction",
         [](const ReplyPolicy& p, const Request& r) {
             return r.payload.contains("idTag") ? json{{"idTagInfo", p.id_tag_info(r.payload)}}
                                                : json::object();
         }},
        {"TransactionEvent",
         [](const ReplyPolicy& p, const Request& r) {
             return r.payload.contains("idToken")
                        ? json{{"idTokenInfo", p.id_token_info(r.payload)}}
                        : json::object();
         }},
        {"DataTransfer",
         [](const ReplyPolicy& p, const Request&) {
             return json{{"status", p.settings_.data_transfer_status}};
         }},
        // Recorded and handed on through Kafka: the operator's back office acts on them.
        {"SignCertificate", [](const ReplyPolicy&, const Request&) { return json{{"status", "Accepted"}}; }},
        {"NotifyEVChargingNeeds", [](const ReplyPolicy&, const Request&) { return json{{"status", "Accepted"}}; }},
        {"NotifyEVChargingSchedule", [](const ReplyPolicy&, const Request&) { return json{{"status", "Accepted"}}; }},
        // The gateway holds no certificate authority; stations fall back gracefully.
        {"Get15118EVCertificate",
         [](const ReplyPolicy&, const Request&) { return json{{"status", "Failed"}, {"exiResponse", ""}}; }},
        {"GetCertificateStatus", [](const ReplyPolicy&, const Request&) { return json{{"status", "Failed"}}; }},
    };
    const auto it = kReplies.find(action);
    if (it == kReplies.end()) {
        return json::object();
    }
    return it->second(*this, Request{v, payload, transaction_id, now});
}

}  // namespace gateway::session
