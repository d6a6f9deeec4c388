#include "gateway/commands/presence_table.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "ocpp/types.hpp"

namespace gateway::commands {

using json = nlohmann::json;
using kafka_bridge::parse_time_ms;

bool PresenceTable::apply(const std::string& key, const std::optional<std::string>& value,
                          std::int64_t offset, std::int64_t timestamp_ms, Change* change) {
    if (key.rfind("gateway:", 0) == 0) {
        auto& g = gateways_[key.substr(8)];
        if (!value) {
            g.alive = false;
            return true;
        }
        const json doc = json::parse(*value, nullptr, false);
        if (doc.is_discarded() || !doc.is_object() || !doc.contains("state")) {
            return false;
        }
        g.alive = doc["state"] == "Alive";
        g.last_ms = timestamp_ms;
        return true;
    }
    if (!value) {
        stations_.erase(ocpp::ascii_lower(key));
        return true;
    }
    const json doc = json::parse(*value, nullptr, false);
    try {
        if (doc.is_discarded() || !doc.is_object()) {
            return false;
        }
        Presence p;
        p.station_id = doc.at("stationId").get<std::string>();
        p.gateway_id = doc.at("gatewayId").get<std::string>();
        p.connected = doc.at("state").get<std::string>() == "Connected";
        p.session_id = doc.value("sessionId", "");
        p.since = doc.value("since", "");
        p.at = doc.value("at", "");
        if (const auto v = doc.find("ocppVersion"); v != doc.end() && v->is_string()) {
            p.version = ocpp::parse_version(v->get<std::string>());
        }
        auto& slot = stations_[ocpp::ascii_lower(p.station_id)];
        if (p.connected) {
            // The Connected record's own offset is the connection's epoch (unless the record
            // restates an older connection, which carries its epoch).
            const auto e = doc.find("epoch");
            if (e != doc.end() && !e->is_number_integer()) {
                return false;
            }
            p.epoch = e != doc.end() ? e->get<std::int64_t>() : offset;
            slot = p;
            if (change != nullptr) {
                change->connected = p;
            }
            return true;
        }
        // Disconnected: ends only the connection it names; a newer one stays.
        const auto e = doc.find("epoch");
        if (e != doc.end() && !e->is_number_integer()) {
            return false;
        }
        const std::int64_t ended = e != doc.end() ? e->get<std::int64_t>() : -1;
        if (slot.station_id.empty() || !slot.connected ||
            (slot.gateway_id == p.gateway_id && (ended < 0 || ended == slot.epoch))) {
            p.epoch = ended;
            slot = p;
        }
        return true;
    } catch (const json::exception&) {
        return false;
    }
}

bool PresenceTable::gateway_alive(const std::string& gateway_id, std::int64_t now_ms) const {
    if (!self_.empty() && gateway_id == self_) {
        return true;
    }
    const auto it = gateways_.find(gateway_id);
    return it != gateways_.end() && it->second.alive &&
           now_ms - it->second.last_ms < instance_timeout_.count();
}

std::vector<std::string> PresenceTable::alive_gateways(std::int64_t now_ms) const {
    std::vector<std::string> out;
    for (const auto& [id, g] : gateways_) {
        if (id != self_ && g.alive && now_ms - g.last_ms < instance_timeout_.count()) {
            out.push_back(id);
        }
    }
    if (!self_.empty()) {
        out.insert(std::lower_bound(out.begin(), out.end(), self_), self_);
    }
    return out;  // sorted
}

std::optional<Presence> PresenceTable::last(std::string_view station_id) const {
    const auto it = stations_.find(ocpp::ascii_lower(station_id));
    if (it == stations_.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<Presence> PresenceTable::holder(std::string_view station_id, std::int64_t now_ms) const {
    auto p = last(station_id);
    if (!p || !p->connected || !gateway_alive(p->gateway_id, now_ms)) {
        return std::nullopt;
    }
    return p;
}

std::vector<Presence> PresenceTable::connected(std::int64_t now_ms) const {
    std::vector<Presence> out;
    for (const auto& [key, p] : stations_) {
        if (p.connected && gateway_alive(p.gateway_id, now_ms)) {
            out.push_back(p);
        }
    }
    return out;
}

std::vector<Presence> PresenceTable::held_by(const std::string& gateway_id) const {
    std::vector<Presence> out;
    for (const auto& [key, p] : stations_) {
        if (p.connected && p.gateway_id == gateway_id) {
            out.push_back(p);
        }
    }
    return out;
}

}  // namespace gateway::commands
