#include "gateway/decisions/asks.hpp"

#include <nlohmann/json.hpp>

#include "kafka_bridge/record_json.hpp"

namespace gateway::decisions {

void AskTable::add(const std::string& request_id, Callback callback) {
    std::lock_guard<std::mutex> lock(mutex_);
    waiting_[request_id] = std::move(callback);
}

std::optional<AskTable::Callback> AskTable::take(const std::string& request_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = waiting_.find(request_id);
    if (it == waiting_.end()) {
        return std::nullopt;
    }
    Callback callback = std::move(it->second);
    waiting_.erase(it);
    return callback;
}

bool AskTable::answer(const std::string& request_id, TokenEntry decision) {
    auto callback = take(request_id);
    if (!callback) {
        return false;
    }
    (*callback)(std::move(decision));
    return true;
}

void AskTable::expire(const std::string& request_id) {
    if (auto callback = take(request_id)) {
        (*callback)(std::nullopt);
    }
}

std::size_t AskTable::waiting() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_.size();
}

std::optional<std::string> parse_decision(const std::string& value, DecisionRecord& out) {
    auto read = kafka_bridge::read_record_json(value);
    if (!read.ok()) {
        return "value is not a JSON object: " + read.error();
    }
    const nlohmann::json doc = std::move(read).value();
    if (!doc.is_object()) {
        return std::string("value is not a JSON object");
    }
    const auto id = doc.find("requestId");
    if (id == doc.end() || !id->is_string() || id->get<std::string>().empty()) {
        return std::string("requestId is missing");
    }
    out.request_id = id->get<std::string>();
    return read_token_entry(doc, std::nullopt, out.entry);
}

std::string request_record(const AskRequest& r) {
    nlohmann::json token{{"idToken", r.id_token}};
    if (!r.type.empty()) {
        token["type"] = r.type;
    }
    nlohmann::json doc{{"requestId", r.request_id},   {"stationId", r.station_id},
                       {"gatewayId", r.gateway_id},   {"sessionId", r.session_id},
                       {"ocppVersion", r.ocpp_version}, {"action", r.action},
                       {"messageId", r.message_id},   {"idToken", std::move(token)},
                       {"requestedAt", r.requested_at}, {"deadline", r.deadline}};
    if (r.table_status) {
        doc["tableStatus"] = *r.table_status;
    }
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gateway::decisions
