#include "gateway/reply_policy.hpp"

namespace gateway {
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
    const bool v16 = v == ProtocolVersion::v16;
    if (action == "BootNotification") {
        return json{{"status", "Accepted"},
                    {"currentTime", now},
                    {"interval", settings_.heartbeat_interval.count()}};
    }
    if (action == "Heartbeat") {
        return json{{"currentTime", now}};
    }
    if (action == "Authorize") {
        return v16 ? json{{"idTagInfo", id_tag_info(payload)}}
                   : json{{"idTokenInfo", id_token_info(payload)}};
    }
    if (action == "StartTransaction") {
        return json{{"transactionId", transaction_id.value_or(0)},
                    {"idTagInfo", id_tag_info(payload)}};
    }
    if (action == "StopTransaction") {
        return payload.contains("idTag") ? json{{"idTagInfo", id_tag_info(payload)}}
                                         : json::object();
    }
    if (action == "TransactionEvent") {
        return payload.contains("idToken") ? json{{"idTokenInfo", id_token_info(payload)}}
                                           : json::object();
    }
    if (action == "DataTransfer") {
        return json{{"status", settings_.data_transfer_status}};
    }
    if (action == "SignCertificate" || action == "NotifyEVChargingNeeds" ||
        action == "NotifyEVChargingSchedule") {
        // Recorded and handed on through Kafka: the operator's back office acts on it.
        return json{{"status", "Accepted"}};
    }
    if (action == "Get15118EVCertificate") {
        // The gateway holds no certificate authority; the station falls back gracefully.
        return json{{"status", "Failed"}, {"exiResponse", ""}};
    }
    if (action == "GetCertificateStatus") {
        return json{{"status", "Failed"}};
    }
    // Every other station-initiated action is a notification with an empty confirmation.
    return json::object();
}

}  // namespace gateway
