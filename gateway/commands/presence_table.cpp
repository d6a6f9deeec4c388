#include "gateway/commands/presence_table.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "kafka_bridge/record_json.hpp"
#include "ocpp/types.hpp"

namespace gateway::commands {

using json = nlohmann::json;
using kafka_bridge::parse_time_ms;

namespace {

constexpr std::size_t kUuidLength = 36;

bool uuid_dash(std::size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;  // upper case too: it would not come back as it was
}

/// A session id in the lower-case 8-4-4-4-12 form new_uuid() writes, as 16 bytes.
bool pack_uuid(std::string_view text, std::array<std::uint8_t, 16>& out) {
    if (text.size() != kUuidLength) {
        return false;
    }
    std::size_t byte = 0;
    for (std::size_t i = 0; i < kUuidLength;) {
        if (uuid_dash(i)) {
            if (text[i] != '-') {
                return false;
            }
            ++i;
            continue;
        }
        const int hi = hex_value(text[i]);
        const int lo = hex_value(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[byte++] = static_cast<std::uint8_t>(hi * 16 + lo);
        i += 2;
    }
    return byte == out.size();
}

std::string unpack_uuid(const std::array<std::uint8_t, 16>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(kUuidLength);
    for (std::size_t b = 0; b < bytes.size(); ++b) {
        if (b == 4 || b == 6 || b == 8 || b == 10) {
            out += '-';
        }
        out += kDigits[bytes[b] >> 4U];
        out += kDigits[bytes[b] & 0xFU];
    }
    return out;
}

}  // namespace

bool PresenceTable::CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return static_cast<unsigned char>(ocpp::ascii_lower(x)) <
               static_cast<unsigned char>(ocpp::ascii_lower(y));
    });
}

std::uint32_t PresenceTable::intern(std::string_view gateway_id) {
    if (const auto it = instance_index_.find(gateway_id); it != instance_index_.end()) {
        return it->second;
    }
    const auto index = static_cast<std::uint32_t>(instances_.size());
    instances_.push_back(Instance{std::string(gateway_id), false, 0});
    if (!self_.empty() && gateway_id == self_) {
        self_index_ = index;
    }
    instance_index_.emplace(std::string(gateway_id), index);
    return index;
}

bool PresenceTable::alive(std::uint32_t instance, std::int64_t now_ms) const {
    if (instance == self_index_) {
        return true;
    }
    const Instance& g = instances_[instance];
    return g.alive && now_ms - g.last_ms < instance_timeout_.count();
}

PresenceTable::Entry PresenceTable::pack(const Presence& p) {
    Entry e;
    e.epoch = p.epoch;
    e.instance = intern(p.gateway_id);
    e.connected = p.connected;
    if (p.version) {
        e.version = static_cast<std::uint8_t>(static_cast<std::uint8_t>(*p.version) + 1);
    }
    bool packed = true;
    if (!p.session_id.empty()) {
        e.has_session = pack_uuid(p.session_id, e.session);
        packed = e.has_session;
    }
    if (!p.since.empty()) {
        const auto ms = parse_time_ms(p.since);
        if (ms && kafka_bridge::format_time_ms(*ms) == p.since) {
            e.since_ms = *ms;
        } else {
            packed = false;
        }
    }
    if (!packed) {
        e.has_session = false;
        e.since_ms = kNoTime;
        e.odd = std::make_unique<Odd>(Odd{p.session_id, p.since});
    }
    return e;
}

Presence PresenceTable::unpack(const std::string& station_id, const Entry& e) const {
    Presence p;
    p.station_id = station_id;
    p.gateway_id = instances_[e.instance].id;
    p.connected = e.connected;
    p.epoch = e.epoch;
    if (e.version != 0) {
        p.version = static_cast<ocpp::ProtocolVersion>(e.version - 1);
    }
    if (e.odd) {
        p.session_id = e.odd->session_id;
        p.since = e.odd->since;
    } else {
        if (e.has_session) {
            p.session_id = unpack_uuid(e.session);
        }
        if (e.since_ms != kNoTime) {
            p.since = kafka_bridge::format_time_ms(e.since_ms);
        }
    }
    return p;
}

bool PresenceTable::apply(const std::string& key, const std::optional<std::string>& value,
                          std::int64_t offset, std::int64_t timestamp_ms, Change* change) {
    if (key.rfind("gateway:", 0) == 0) {
        Instance& g = instances_[intern(std::string_view(key).substr(8))];
        if (!value) {
            g.alive = false;
            return true;
        }
        const json doc = kafka_bridge::parse_record_json(*value);
        if (doc.is_discarded() || !doc.is_object() || !doc.contains("state")) {
            return false;
        }
        g.alive = doc["state"] == "Alive";
        g.last_ms = timestamp_ms;
        // The latest run of the id: a late record of an earlier run, or one without a run
        // (an earlier version), does not make it older.
        if (const auto run = doc.find("run"); run != doc.end() && run->is_number_integer()) {
            g.run = std::max(g.run, run->get<std::int64_t>());
        }
        return true;
    }
    if (!value) {
        stations_.erase(key);
        return true;
    }
    const json doc = kafka_bridge::parse_record_json(*value);
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
        if (const auto v = doc.find("ocppVersion"); v != doc.end() && v->is_string()) {
            p.version = ocpp::parse_version(v->get<std::string>());
        }
        const auto e = doc.find("epoch");
        if (e != doc.end() && !e->is_number_integer()) {
            return false;
        }
        auto slot = stations_.find(p.station_id);
        if (p.connected) {
            // The Connected record's own offset is the connection's epoch (unless the record
            // restates an older connection, which carries its epoch).
            p.epoch = e != doc.end() ? e->get<std::int64_t>() : offset;
        } else {
            // Disconnected: ends only the connection it names; a newer one stays.
            const std::int64_t ended = e != doc.end() ? e->get<std::int64_t>() : -1;
            if (slot != stations_.end() && slot->second.connected &&
                (instances_[slot->second.instance].id != p.gateway_id ||
                 (ended >= 0 && ended != slot->second.epoch))) {
                return true;
            }
            if (slot != stations_.end() && slot->second.connected && ended < 0) {
                // Without an epoch (its connection closed before its Connected record was
                // acknowledged) it names its session: a later connection of the same instance,
                // recorded before this record was written again after a failure, stays. Both
                // times are that instance's clock.
                const Presence current = unpack(slot->first, slot->second);
                const auto current_since = parse_time_ms(current.since);
                const auto ended_since = parse_time_ms(p.since);
                if (current.session_id != p.session_id && current_since && ended_since &&
                    *current_since > *ended_since) {
                    return true;
                }
            }
            p.epoch = ended;
        }
        if (slot == stations_.end()) {
            slot = stations_.emplace(p.station_id, pack(p)).first;
        } else {
            slot->second = pack(p);
            if (slot->first != p.station_id) {
                // The same station under another spelling: the entry takes the newest.
                auto node = stations_.extract(slot);
                node.key() = p.station_id;
                slot = stations_.insert(std::move(node)).position;
            }
        }
        if (p.connected && change != nullptr) {
            change->connected = unpack(slot->first, slot->second);
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
    const auto it = instance_index_.find(gateway_id);
    return it != instance_index_.end() && alive(it->second, now_ms);
}

std::int64_t PresenceTable::gateway_run(const std::string& gateway_id) const {
    if (!self_.empty() && gateway_id == self_ && self_run_ > 0) {
        return self_run_;
    }
    const auto it = instance_index_.find(gateway_id);
    return it == instance_index_.end() ? 0 : instances_[it->second].run;
}

std::int64_t PresenceTable::last_liveness_ms(const std::string& gateway_id) const {
    const auto it = instance_index_.find(gateway_id);
    return it == instance_index_.end() ? 0 : instances_[it->second].last_ms;
}

std::vector<std::string> PresenceTable::alive_gateways(std::int64_t now_ms) const {
    std::vector<std::string> out;
    for (const auto& [id, index] : instance_index_) {
        if (id != self_ && alive(index, now_ms)) {
            out.push_back(id);
        }
    }
    if (!self_.empty()) {
        out.insert(std::lower_bound(out.begin(), out.end(), self_), self_);
    }
    return out;  // sorted
}

std::optional<Presence> PresenceTable::last(std::string_view station_id) const {
    const auto it = stations_.find(station_id);
    if (it == stations_.end()) {
        return std::nullopt;
    }
    return unpack(it->first, it->second);
}

std::optional<Presence> PresenceTable::holder(std::string_view station_id, std::int64_t now_ms) const {
    const auto it = stations_.find(station_id);
    if (it == stations_.end() || !it->second.connected || !alive(it->second.instance, now_ms)) {
        return std::nullopt;
    }
    return unpack(it->first, it->second);
}

std::vector<Presence> PresenceTable::connected(std::int64_t now_ms) const {
    std::vector<Presence> out;
    for (const auto& [id, e] : stations_) {
        if (e.connected && alive(e.instance, now_ms)) {
            out.push_back(unpack(id, e));
        }
    }
    return out;
}

std::vector<Presence> PresenceTable::held_by(const std::string& gateway_id) const {
    std::vector<Presence> out;
    const auto index = instance_index_.find(gateway_id);
    if (index == instance_index_.end()) {
        return out;
    }
    for (const auto& [id, e] : stations_) {
        if (e.connected && e.instance == index->second) {
            out.push_back(unpack(id, e));
        }
    }
    return out;
}

}  // namespace gateway::commands
