#include "tools/billing/book.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kafka_bridge/commands.hpp"

namespace billing {
namespace {

using json = nlohmann::json;

const json* member(const json& j, const char* name) {
    if (!j.is_object()) {
        return nullptr;
    }
    const auto it = j.find(name);
    return it != j.end() ? &*it : nullptr;
}

std::optional<std::string> text(const json& j, const char* name) {
    const json* m = member(j, name);
    return m != nullptr && m->is_string() ? std::optional(m->get<std::string>()) : std::nullopt;
}

std::optional<std::int64_t> integer(const json& j, const char* name) {
    const json* m = member(j, name);
    if (m != nullptr && m->is_number_float()) {
        // The schemas are draft-07, whose integers are numbers without a fraction: 42.0 is
        // valid where 42 is, and the gateway publishes it as the station wrote it.
        const double d = m->get<double>();
        constexpr double kLimit = 9223372036854775808.0;  // 2^63
        return std::floor(d) == d && d >= -kLimit && d < kLimit ? std::optional(static_cast<std::int64_t>(d))
                                                                : std::nullopt;
    }
    return m != nullptr && m->is_number_integer() ? std::optional(m->get<std::int64_t>()) : std::nullopt;
}

std::optional<double> number(const json& j, const char* name) {
    const json* m = member(j, name);
    return m != nullptr && m->is_number() ? std::optional(m->get<double>()) : std::nullopt;
}

std::optional<std::int64_t> time_of(const json& j, const char* name) {
    const auto t = text(j, name);
    return t ? kafka_bridge::parse_time_ms(*t) : std::nullopt;
}

void keep_earliest(std::optional<Reading>& slot, Reading r) {
    if (!slot || r.at_ms < slot->at_ms || (r.at_ms == slot->at_ms && r.wh < slot->wh)) {
        slot = r;
    }
}

void keep_latest(std::optional<Reading>& slot, Reading r) {
    if (!slot || r.at_ms > slot->at_ms || (r.at_ms == slot->at_ms && r.wh > slot->wh)) {
        slot = r;
    }
}

void add_reading(Session& s, Reading r) {
    keep_earliest(s.first, r);
    keep_latest(s.last, r);
}

/// Energy register readings of an OCPP meterValue array (both versions): samples of
/// Energy.Active.Import.Register (the default measurand) without a phase, measured at the
/// outlet (the default location: what the vehicle drew; a station may also report its grid
/// connection's register, Inlet, or the vehicle's, EV, which would mix two meters), in Wh.
void add_meter_values(Session& s, const json& meter_values) {
    if (!meter_values.is_array()) {
        return;
    }
    for (const auto& mv : meter_values) {
        const auto at = time_of(mv, "timestamp");
        const json* samples = member(mv, "sampledValue");
        if (!at || samples == nullptr || !samples->is_array()) {
            continue;
        }
        for (const auto& sv : *samples) {
            if (text(sv, "measurand").value_or("Energy.Active.Import.Register") != "Energy.Active.Import.Register" ||
                member(sv, "phase") != nullptr || text(sv, "location").value_or("Outlet") != "Outlet") {
                continue;
            }
            double value = 0;
            bool valid = false;
            std::string unit = "Wh";
            int multiplier = 0;
            if (const auto v16 = text(sv, "value")) {  // 1.6: a string
                try {
                    std::size_t used = 0;
                    value = std::stod(*v16, &used);
                    valid = used == v16->size();
                } catch (const std::exception&) {
                    valid = false;
                }
                unit = text(sv, "unit").value_or("Wh");
            } else if (const auto v201 = number(sv, "value")) {  // 2.0.1: a number
                value = *v201;
                valid = true;
                if (const json* uom = member(sv, "unitOfMeasure")) {
                    unit = text(*uom, "unit").value_or("Wh");
                    multiplier = static_cast<int>(integer(*uom, "multiplier").value_or(0));
                }
            }
            if (!valid || (unit != "Wh" && unit != "kWh")) {
                continue;
            }
            const double wh = value * std::pow(10.0, multiplier) * (unit == "kWh" ? 1000.0 : 1.0);
            if (!std::isfinite(wh)) {
                continue;  // "NaN", "inf" or an overflowing multiplier: no energy to bill
            }
            add_reading(s, Reading{*at, wh});
        }
    }
}

std::string format(std::int64_t ms) { return kafka_bridge::format_time_ms(ms); }

json reading_json(const std::optional<Reading>& r) {
    if (!r) {
        return nullptr;
    }
    return json{{"at", format(r->at_ms)}, {"wh", r->wh}};
}

std::optional<Reading> reading_from(const json& j, const char* name) {
    const json* r = member(j, name);
    if (r == nullptr || !r->is_object()) {
        return std::nullopt;
    }
    const auto at = time_of(*r, "at");
    const auto wh = number(*r, "wh");
    if (!at || !wh) {
        return std::nullopt;
    }
    return Reading{*at, *wh};
}

/// Closed, with a known last change before `before_ms` (a session without that time —
/// events without record times — never retires).
bool retirable(const Session& s, std::int64_t before_ms) {
    return s.stopped_ms.has_value() && s.updated_ms != 0 && s.updated_ms < before_ms;
}

}  // namespace

std::string session_key(const std::string& station_id, const std::string& transaction_id) {
    std::string key;
    key.reserve(station_id.size() + transaction_id.size() + 1);
    const auto append = [&key](const std::string& id) {
        for (const char c : id) {
            if (c == '|' || c == '\\') {
                key += '\\';
            }
            key += c;
        }
    };
    append(station_id);
    key += '|';
    append(transaction_id);
    return key;
}

bool Session::operator==(const Session& o) const {
    return key == o.key && generation == o.generation && station_id == o.station_id &&
           ocpp_version == o.ocpp_version &&
           transaction_ids == o.transaction_ids && connector_id == o.connector_id &&
           evse_id == o.evse_id && id_token == o.id_token && started_ms == o.started_ms &&
           stopped_ms == o.stopped_ms && first == o.first && last == o.last &&
           stop_reason == o.stop_reason && start_keys == o.start_keys && seq_nos == o.seq_nos;
}

std::string Session::status() const {
    // Without its start a session is orphaned even once stopped: its first reading, and so
    // its energy, may be missing, and "closed" is what a billing team bills.
    return !started_ms ? "orphaned" : stopped_ms ? "closed" : "open";
}

json Session::to_json() const {
    json j{{"sessionKey", key},
           {"stationId", station_id},
           {"ocppVersion", ocpp_version},
           {"transactionIds", json(std::vector<std::string>(transaction_ids.begin(), transaction_ids.end()))},
           {"idToken", id_token},
           {"startedAt", started_ms ? json(format(*started_ms)) : json(nullptr)},
           {"stoppedAt", stopped_ms ? json(format(*stopped_ms)) : json(nullptr)},
           {"meterStart", reading_json(first)},
           {"meterStop", reading_json(last)},
           {"energyWh", first && last && !meter_went_back() ? last->wh - first->wh : 0.0},
           {"status", status()},
           {"stopReason", stop_reason},
           {"startDedupKeys", json(std::vector<std::string>(start_keys.begin(), start_keys.end()))}};
    json ranges = json::array();
    for (const auto& [from, to] : seq_nos.ranges()) {
        ranges.push_back({from, to});
    }
    j["seqNos"] = std::move(ranges);
    j["connectorId"] = connector_id ? json(*connector_id) : json(nullptr);
    j["evseId"] = evse_id ? json(*evse_id) : json(nullptr);
    if (updated_ms != 0) {
        j["updatedAt"] = format(updated_ms);
    }
    if (generation > 1) {
        j["generation"] = generation;
    }
    if (meter_went_back()) {
        j["meterWentBack"] = true;
    }
    return j;
}

std::optional<Session> Session::from_json(const json& j) {
    Session s;
    const auto key = text(j, "sessionKey");
    const auto station = text(j, "stationId");
    const json* ids = member(j, "transactionIds");
    const json* keys = member(j, "startDedupKeys");
    if (!key || !station || ids == nullptr || !ids->is_array() || ids->empty() || keys == nullptr ||
        !keys->is_array()) {
        return std::nullopt;
    }
    s.key = *key;
    s.station_id = *station;
    s.ocpp_version = text(j, "ocppVersion").value_or("");
    for (const auto& id : *ids) {
        if (!id.is_string()) {
            return std::nullopt;
        }
        s.transaction_ids.insert(id.get<std::string>());
    }
    for (const auto& k : *keys) {
        if (!k.is_string()) {
            return std::nullopt;
        }
        s.start_keys.insert(k.get<std::string>());
    }
    if (const json* ranges = member(j, "seqNos"); ranges != nullptr && ranges->is_array()) {
        for (const auto& r : *ranges) {
            if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer()) {
                return std::nullopt;
            }
            if (!s.seq_nos.insert_range(r[0].get<std::int64_t>(), r[1].get<std::int64_t>())) {
                return std::nullopt;
            }
        }
    }
    if (const auto c = integer(j, "connectorId")) {
        s.connector_id = static_cast<int>(*c);
    }
    if (const auto e = integer(j, "evseId")) {
        s.evse_id = static_cast<int>(*e);
    }
    s.id_token = text(j, "idToken").value_or("");
    s.started_ms = time_of(j, "startedAt");
    s.stopped_ms = time_of(j, "stoppedAt");
    s.first = reading_from(j, "meterStart");
    s.last = reading_from(j, "meterStop");
    s.stop_reason = text(j, "stopReason").value_or("");
    s.updated_ms = time_of(j, "updatedAt").value_or(0);
    if (const json* g = member(j, "generation")) {
        if (!g->is_number_integer() || g->get<std::int64_t>() < 2 || g->get<std::int64_t>() > INT32_MAX) {
            return std::nullopt;
        }
        s.generation = static_cast<int>(g->get<std::int64_t>());
    }
    return s;
}

Session& Book::session_for(const std::string& station, const std::string& transaction_id,
                           const std::string& version) {
    const std::string id_key = session_key(station, transaction_id);
    if (const auto it = by_transaction_.find(id_key); it != by_transaction_.end()) {
        return sessions_.at(it->second);
    }
    Session s;
    s.key = id_key;
    s.station_id = station;
    s.ocpp_version = version;
    s.transaction_ids.insert(transaction_id);
    by_transaction_[id_key] = id_key;
    return sessions_.emplace(id_key, std::move(s)).first->second;
}

bool Book::reused(const std::string& id_key, const std::string& dedup, bool v16,
                  std::optional<std::int64_t> started_at) const {
    if (v16 && (by_start_key_.count(dedup) > 0 || retired_start_keys_.count(dedup) > 0)) {
        return false;  // a repeated start: merged, a duplicate or late
    }
    const auto it = by_transaction_.find(id_key);
    if (it == by_transaction_.end()) {
        // Retired from memory (or never seen). 2.0.1: a Started timed after the retired
        // session's end (a replay of its own Started is timed before).
        if (v16) {
            return last_generation(id_key) > 0;
        }
        const auto ended = retired_stops_.find(id_key);
        return ended != retired_stops_.end() && started_at && *started_at > ended->second;
    }
    const Session& s = sessions_.at(it->second);
    if (v16) {
        // Started and stopped, and this start none of its own (1.6 stops come after their
        // start: a session stopped before its start was seen is waiting for it).
        return s.started_ms && s.stopped_ms && s.start_keys.count(dedup) == 0;
    }
    // 2.0.1: a Started timed after the session's end is another transaction; a resend or a
    // replay of the session's own Started is timed at or before it.
    return s.stopped_ms && started_at && *started_at > *s.stopped_ms;
}

void Book::remember_stop(const Session& s, const std::string& id_key) {
    if (s.ocpp_version != "1.6" && s.stopped_ms) {
        auto [it, fresh] = retired_stops_.emplace(id_key, *s.stopped_ms);
        if (!fresh) {
            it->second = std::max(it->second, *s.stopped_ms);
        }
    }
}

int Book::last_generation(const std::string& id_key) const {
    if (const auto g = generations_.find(id_key); g != generations_.end()) {
        return g->second;
    }
    if (const auto it = by_transaction_.find(id_key); it != by_transaction_.end()) {
        return sessions_.at(it->second).generation;
    }
    return retired_.count(id_key) > 0 || retired_aliases_.count(id_key) > 0 ? 1 : 0;
}

Session& Book::next_generation(const std::string& station, const std::string& transaction_id,
                               const std::string& version) {
    const std::string id_key = session_key(station, transaction_id);
    const int generation = last_generation(id_key) + 1;
    generations_[id_key] = generation;
    Session s;
    s.key = id_key + "|" + std::to_string(generation);
    s.generation = generation;
    s.station_id = station;
    s.ocpp_version = version;
    s.transaction_ids.insert(transaction_id);
    by_transaction_[id_key] = s.key;
    const std::string key = s.key;
    return sessions_.insert_or_assign(key, std::move(s)).first->second;
}

void Book::index(const Session& s) {
    for (const auto& id : s.transaction_ids) {
        const std::string id_key = session_key(s.station_id, id);
        // The latest generation holds the id: later events of it are its.
        auto [it, fresh] = by_transaction_.emplace(id_key, s.key);
        if (!fresh && it->second != s.key) {
            const auto held = sessions_.find(it->second);
            if (held == sessions_.end() || held->second.generation <= s.generation) {
                it->second = s.key;
            }
        }
        if (s.generation > 1) {
            int& g = generations_[id_key];
            g = std::max(g, s.generation);
        }
    }
    for (const auto& k : s.start_keys) {
        by_start_key_[k] = s.key;
    }
}

void Book::merge(const std::string& from, const std::string& into) {
    Session gone = std::move(sessions_.at(from));
    sessions_.erase(from);
    Session& s = sessions_.at(into);
    s.transaction_ids.insert(gone.transaction_ids.begin(), gone.transaction_ids.end());
    s.start_keys.insert(gone.start_keys.begin(), gone.start_keys.end());
    s.seq_nos.insert_all(gone.seq_nos);
    if (gone.started_ms && (!s.started_ms || *gone.started_ms < *s.started_ms)) {
        s.started_ms = gone.started_ms;
    }
    if (gone.stopped_ms && (!s.stopped_ms || *gone.stopped_ms > *s.stopped_ms)) {
        s.stopped_ms = gone.stopped_ms;
    }
    if (gone.first) {
        keep_earliest(s.first, *gone.first);
    }
    if (gone.last) {
        keep_latest(s.last, *gone.last);
    }
    if (!s.connector_id) {
        s.connector_id = gone.connector_id;
    }
    if (!s.evse_id) {
        s.evse_id = gone.evse_id;
    }
    if (s.id_token.empty()) {
        s.id_token = gone.id_token;
    }
    if (s.stop_reason.empty()) {
        s.stop_reason = gone.stop_reason;
    }
    s.updated_ms = std::max(s.updated_ms, gone.updated_ms);
    index(s);
    changed_.erase(from);
    removed_.insert(from);
    removed_.erase(into);
    changed_.insert(into);
}

Applied Book::apply(const json& event, std::string* note, std::int64_t at_ms) {
    const auto unusable = [note](const char* why) {
        if (note != nullptr) {
            *note = why;
        }
        return Applied::unusable;
    };
    const auto station = text(event, "stationId");
    const auto version = text(event, "ocppVersion");
    const auto action = text(event, "action");
    const auto dedup = text(event, "dedupKey");
    const json* payload = member(event, "payload");
    const json* reply = member(event, "reply");
    if (!station || !version || !action || !dedup || payload == nullptr || !payload->is_object()) {
        return unusable("not a station event: stationId, ocppVersion, action and dedupKey (strings) "
                        "and payload (an object) are required");
    }
    std::optional<std::string> transaction_id;
    if (*version == "1.6") {
        if (*action == "StartTransaction") {
            if (reply == nullptr) {
                return unusable("a 1.6 StartTransaction without the answer the station got (reply)");
            }
            const auto id = integer(*reply, "transactionId");
            if (!id) {
                return unusable("a 1.6 StartTransaction whose answer (reply) has no transactionId");
            }
            transaction_id = std::to_string(*id);
        } else if (*action == "MeterValues" || *action == "StopTransaction") {
            if (const auto id = integer(*payload, "transactionId")) {
                transaction_id = std::to_string(*id);
            }
        }
    } else if (*action == "TransactionEvent") {
        if (const json* info = member(*payload, "transactionInfo")) {
            transaction_id = text(*info, "transactionId");
        }
    }
    if (!transaction_id) {
        return Applied::ignored;
    }
    const std::string id_key = session_key(*station, *transaction_id);
    const auto late = [&](const char* why) {
        if (note != nullptr) {
            *note = "a " + *action + " for transaction " + *transaction_id + " of " + *station + why;
        }
        return Applied::late;
    };
    const bool v16 = *version == "1.6";
    const bool starts = v16 ? *action == "StartTransaction"
                            : text(*payload, "eventType").value_or("") == "Started";
    std::string reuse_note;
    if (starts && reused(id_key, *dedup, v16, time_of(*payload, "timestamp"))) {
        // The station used the transaction id again (its numbering restarted): a session of
        // its own, not more events of the one that ended.
        const Session& next = next_generation(*station, *transaction_id, *version);
        reuse_note = "transaction id " + *transaction_id + " of " + *station + " used again after its session ended: "
                     "session " + next.key + " (generation " + std::to_string(next.generation) + ")";
    }
    if (*action == "StartTransaction") {
        if (by_start_key_.count(*dedup) == 0 && retired_start_keys_.count(*dedup) > 0) {
            if (note != nullptr) {
                *note = "a StartTransaction of " + *station + " repeating the start (dedupKey " + *dedup +
                        ") of a session closed and retired from memory: not applied";
            }
            return Applied::late;
        }
        if (const auto seen = by_start_key_.find(*dedup); seen != by_start_key_.end()) {
            if (sessions_.at(seen->second).transaction_ids.count(*transaction_id) > 0) {
                return Applied::duplicate;  // its session has the id already
            }
            if (stale(sessions_.at(seen->second), at_ms)) {
                return late(", repeating the start of a session closed more than the retirement horizon before: "
                            "not applied");
            }
            // The station repeated its start after losing the answer, and was given another
            // transaction id: one session, under the smaller id (the start that came first).
            // That id may have been another transaction's before (its numbering restarted): an
            // ended session of it, or a retired one, is no part of this one.
            if (const auto held = by_transaction_.find(id_key); held == by_transaction_.end()
                    ? last_generation(id_key) > 0
                    : sessions_.at(held->second).stopped_ms.has_value()) {
                next_generation(*station, *transaction_id, *version);
            }
            const std::string other = seen->second;
            const std::string here = session_for(*station, *transaction_id, *version).key;
            const bool here_first =
                IdOrder{}(*sessions_.at(here).transaction_ids.begin(), *sessions_.at(other).transaction_ids.begin());
            const std::string& kept = here_first ? here : other;
            merge(here_first ? other : here, kept);
            Session& merged = sessions_.at(kept);
            merged.updated_ms = std::max(merged.updated_ms, at_ms);
            return Applied::changed;
        }
    }
    if (by_transaction_.count(id_key) == 0 && (retired_.count(id_key) > 0 || retired_aliases_.count(id_key) > 0)) {
        return late(", whose session was closed and retired from memory: not applied (its record stays as it is)");
    }
    if (const auto it = by_transaction_.find(id_key); it != by_transaction_.end() && stale(sessions_.at(it->second), at_ms)) {
        return late(", more than the retirement horizon after its closed session last changed: not applied (its "
                    "record stays as it is)");
    }
    std::string renumbered;  // what to note about a repeated seqNo applied
    const bool known = by_transaction_.count(id_key) > 0;
    std::optional<Session> before;
    if (known) {
        before = sessions_.at(by_transaction_.at(id_key));
    }
    Session& s = session_for(*station, *transaction_id, *version);
    if (*action == "StartTransaction") {
        const auto at = time_of(*payload, "timestamp");
        if (at && (!s.started_ms || *at < *s.started_ms)) {
            s.started_ms = at;
        }
        if (const auto c = integer(*payload, "connectorId")) {
            s.connector_id = static_cast<int>(*c);
        }
        s.id_token = text(*payload, "idTag").value_or(s.id_token);
        if (const auto wh = number(*payload, "meterStart"); wh && at) {
            add_reading(s, Reading{*at, *wh});
        }
    } else if (*action == "MeterValues") {
        if (!s.connector_id) {
            if (const auto c = integer(*payload, "connectorId")) {
                s.connector_id = static_cast<int>(*c);
            }
        }
        if (const json* mv = member(*payload, "meterValue")) {
            add_meter_values(s, *mv);
        }
    } else if (*action == "StopTransaction") {
        const auto at = time_of(*payload, "timestamp");
        if (at && (!s.stopped_ms || *at > *s.stopped_ms)) {
            s.stopped_ms = at;
        }
        if (const auto wh = number(*payload, "meterStop"); wh && at) {
            add_reading(s, Reading{*at, *wh});
        }
        if (const json* data = member(*payload, "transactionData")) {
            add_meter_values(s, *data);
        }
        s.stop_reason = text(*payload, "reason").value_or("Local");  // 1.6: absent means Local
        if (s.id_token.empty()) {
            s.id_token = text(*payload, "idTag").value_or("");
        }
    } else {  // TransactionEvent
        const auto at = time_of(*payload, "timestamp");
        const auto type = text(*payload, "eventType").value_or("");
        if (const auto seq = integer(*payload, "seqNo"); seq && !s.seq_nos.insert(*seq)) {
            // That seqNo of this transaction was applied: a resend, dropped (its timestamp may
            // have been refreshed). But an Ended for a session not ended, or a Started for one
            // not started, is no resend of anything applied: the station numbered its events
            // again (firmware that restarts seqNo after a reboot). Dropping it would leave the
            // session open for ever.
            const bool first_end = type == "Ended" && !s.stopped_ms && s.stop_reason.empty();
            const bool first_start = type == "Started" && !s.started_ms;
            if (!first_end && !first_start) {
                return Applied::duplicate;
            }
            renumbered = "seqNo " + std::to_string(*seq) + " repeated by the first " + type +
                         " event of the transaction: applied (the station numbered its events again)";
        }
        if (type == "Started" && at && (!s.started_ms || *at < *s.started_ms)) {
            s.started_ms = at;
        }
        if (type == "Ended") {
            if (at && (!s.stopped_ms || *at > *s.stopped_ms)) {
                s.stopped_ms = at;
            }
            if (const json* info = member(*payload, "transactionInfo")) {
                s.stop_reason = text(*info, "stoppedReason").value_or("Local");
            }
        }
        if (const json* token = member(*payload, "idToken"); token != nullptr && s.id_token.empty()) {
            s.id_token = text(*token, "idToken").value_or("");
        }
        if (const json* evse = member(*payload, "evse")) {
            if (const auto id = integer(*evse, "id")) {
                s.evse_id = static_cast<int>(*id);
            }
            if (const auto c = integer(*evse, "connectorId")) {
                s.connector_id = static_cast<int>(*c);
            }
        }
        if (const json* mv = member(*payload, "meterValue")) {
            add_meter_values(s, *mv);
        }
    }
    if (*action == "StartTransaction") {
        s.start_keys.insert(*dedup);
        by_start_key_[*dedup] = s.key;
    }
    if (before && *before == s) {
        return Applied::duplicate;
    }
    if (note != nullptr && !renumbered.empty()) {
        *note = std::move(renumbered);
    }
    if (note != nullptr && !reuse_note.empty()) {
        *note = std::move(reuse_note);
    }
    if (note != nullptr && s.meter_went_back() && !(before && before->meter_went_back())) {
        *note += (note->empty() ? "" : "; ") + std::string("session ") + s.key + ": the latest register reading (" + json(s.last->wh).dump() +
                " Wh) is below the earliest (" + json(s.first->wh).dump() +
                " Wh): energyWh 0 and meterWentBack in its record; look at it before billing it";
    }
    s.updated_ms = std::max(s.updated_ms, at_ms);
    changed_.insert(s.key);
    removed_.erase(s.key);
    return Applied::changed;
}

void Book::restore(Session session, std::int64_t retire_before_ms) {
    const std::string key = session.key;
    if (retirable(session, retire_before_ms)) {
        sessions_.erase(key);
        retired_.insert(key);
        for (const auto& id : session.transaction_ids) {
            const std::string alias = session_key(session.station_id, id);
            if (alias != key) {
                retired_aliases_.insert(alias);
            }
            if (session.generation > 1) {
                int& g = generations_[alias];
                g = std::max(g, session.generation);
            }
            remember_stop(session, alias);
        }
        retired_start_keys_.insert(session.start_keys.begin(), session.start_keys.end());
        return;
    }
    retired_.erase(key);
    sessions_[key] = std::move(session);
}

void Book::forget(const std::string& key) {
    sessions_.erase(key);
    retired_.erase(key);
}

void Book::restored() {
    by_transaction_.clear();
    by_start_key_.clear();
    for (const auto& [key, s] : sessions_) {
        index(s);
        // A session read back live is not retired under any of its ids (an earlier record
        // of it may have been).
        for (const auto& id : s.transaction_ids) {
            retired_aliases_.erase(session_key(s.station_id, id));
        }
        for (const auto& k : s.start_keys) {
            retired_start_keys_.erase(k);
        }
    }
    // A later generation of an id was read back retired, an earlier one live (say, a record
    // of an earlier version, without its time): the id is the retired one's, and its events
    // are late, not the earlier session's.
    for (const auto& [id_key, generation] : generations_) {
        const auto held = by_transaction_.find(id_key);
        if (held != by_transaction_.end() && sessions_.at(held->second).generation < generation) {
            by_transaction_.erase(held);
            retired_aliases_.insert(id_key);
        }
    }
    changed_.clear();
    removed_.clear();
}

bool Book::stale(const Session& s, std::int64_t at_ms) const {
    return late_after_ms_ > 0 && s.stopped_ms && s.updated_ms != 0 && at_ms > s.updated_ms + late_after_ms_;
}

std::size_t Book::retire(std::int64_t before_ms) {
    std::size_t count = 0;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        const Session& s = it->second;
        if (!retirable(s, before_ms) || changed_.count(s.key) > 0) {
            ++it;
            continue;
        }
        for (const auto& id : s.transaction_ids) {
            const std::string id_key = session_key(s.station_id, id);
            if (const auto held = by_transaction_.find(id_key); held != by_transaction_.end() && held->second == s.key) {
                by_transaction_.erase(held);  // not when a later generation holds the id
            }
            remember_stop(s, id_key);
            if (id_key != s.key) {
                retired_aliases_.insert(id_key);
            }
        }
        for (const auto& k : s.start_keys) {
            by_start_key_.erase(k);
            retired_start_keys_.insert(k);
        }
        retired_.insert(s.key);
        it = sessions_.erase(it);
        ++count;
    }
    return count;
}

std::vector<const Session*> Book::take_changed() {
    std::vector<const Session*> out;
    for (const auto& key : changed_) {
        if (const auto it = sessions_.find(key); it != sessions_.end()) {
            out.push_back(&it->second);
        }
    }
    changed_.clear();
    return out;
}

std::vector<std::string> Book::take_removed() {
    std::vector<std::string> out(removed_.begin(), removed_.end());
    removed_.clear();
    return out;
}

}  // namespace billing
