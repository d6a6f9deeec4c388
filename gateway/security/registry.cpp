#include "gateway/security/registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "gateway/security/basic_auth.hpp"
#include "gateway/security/password.hpp"
#include "kafka_bridge/envelope.hpp"
#include "kafka_bridge/record_json.hpp"
#include "ocpp/identity.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::security {
namespace {

// A day: the longest heartbeat interval the gateway itself can be configured with.
constexpr long long kMaxInterval = 86400;
constexpr long long kMinPongMs = 100;     // limits.pong_timeout_ms has the same range
constexpr long long kMaxPongMs = 600000;

bool is_boot_status(const std::string& s) { return s == "Accepted" || s == "Pending" || s == "Rejected"; }

/// The other forms of a 1.6 AuthorizationKey `password` (stations and back offices mix them
/// up, and hexBinary's letter case is free): hex text also as the bytes it spells and in the
/// other letter case; and any password as its own hex text, in upper and lower case (a key
/// of digits is hex text too).
std::vector<std::string> hex_forms(std::string_view password) {
    std::vector<std::string> forms;
    const auto add = [&](std::string form) {
        if (form != password && std::find(forms.begin(), forms.end(), form) == forms.end()) {
            forms.push_back(std::move(form));
        }
    };
    if (auto bytes = hex_decode(password)) {
        add(std::move(*bytes));
        std::string upper(password);
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c; });
        add(std::move(upper));
        add(ocpp::ascii_lower(password));
    }
    const std::string encoded = hex_encode(password);
    add(encoded);
    add(ocpp::ascii_lower(encoded));
    return forms;
}

}  // namespace

namespace {

/// `entry[key]` as a T, or an error naming the key and what it should be.
template <typename T>
T entry_field(const YAML::Node& entry, const char* key, const std::string& where, const char* expected) {
    try {
        return entry[key].as<T>();
    } catch (const YAML::Exception&) {
        throw std::runtime_error(where + ": " + key + " must be " + expected + " (line " +
                                 std::to_string(entry[key].Mark().line + 1) + ")");
    }
}

}  // namespace

void StationRegistry::load_file(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error("station registry " + path + ": " + e.what());
    }
    const auto list = root["stations"];
    if (!list || !list.IsSequence()) {
        throw std::runtime_error("station registry " + path + ": expected `stations:` with a list of entries");
    }
    std::map<std::string, StationCredential, std::less<>> loaded;
    std::size_t index = 0;
    for (const auto& entry : list) {
        const std::string where = "station registry " + path + ", entry " + std::to_string(index++);
        if (!entry.IsMap() || !entry["id"]) {
            throw std::runtime_error(where + ": expected a mapping with `id`");
        }
        StationCredential c;
        c.station_id = entry_field<std::string>(entry, "id", where, "a station identity");
        if (auto error = ocpp::identity_error(c.station_id)) {
            throw std::runtime_error(where + ": " + *error);
        }
        const std::string at = where + " (" + c.station_id + ")";
        for (const auto& field : entry) {
            const auto name = field.first.as<std::string>();
            if (name != "id" && name != "password_hash" && name != "enabled" && name != "boot" &&
                name != "heartbeat_interval_s" && name != "ping_interval_s" && name != "pong_timeout_ms") {
                throw std::runtime_error(where + " (" + c.station_id + "): unknown key `" + name + "`");
            }
        }
        if (entry["password_hash"]) {
            c.password_hash = entry_field<std::string>(entry, "password_hash", at, "a PBKDF2 hash (hash-password)");
            if (auto error = password_hash_error(c.password_hash)) {
                throw std::runtime_error(where + " (" + c.station_id + "): password_hash is " + *error);
            }
        }
        if (entry["enabled"]) {
            c.enabled = entry_field<bool>(entry, "enabled", at, "true or false");
        }
        if (entry["boot"]) {
            c.boot_status = entry_field<std::string>(entry, "boot", at, "Accepted, Pending or Rejected");
            if (!is_boot_status(c.boot_status)) {
                throw std::runtime_error(where + " (" + c.station_id + "): boot must be Accepted, Pending or Rejected");
            }
        }
        if (entry["heartbeat_interval_s"]) {
            const auto seconds = entry_field<long long>(entry, "heartbeat_interval_s", at, "a whole number of seconds, 1 to 86400");
            if (seconds < 1 || seconds > kMaxInterval) {
                throw std::runtime_error(where + " (" + c.station_id + "): heartbeat_interval_s must be 1 to 86400");
            }
            c.heartbeat_interval = std::chrono::seconds(seconds);
        }
        if (entry["ping_interval_s"]) {
            const auto seconds = entry_field<long long>(entry, "ping_interval_s", at, "a whole number of seconds, 0 to 86400");
            if (seconds < 0 || seconds > kMaxInterval) {
                throw std::runtime_error(where + " (" + c.station_id + "): ping_interval_s must be 0 (no pings) to 86400");
            }
            c.ping_interval = std::chrono::seconds(seconds);
        }
        if (entry["pong_timeout_ms"]) {
            const auto ms = entry_field<long long>(entry, "pong_timeout_ms", at, "a whole number of milliseconds, 100 to 600000");
            if (ms < kMinPongMs || ms > kMaxPongMs) {
                throw std::runtime_error(where + " (" + c.station_id + "): pong_timeout_ms must be 100 to 600000");
            }
            c.pong_timeout = std::chrono::milliseconds(ms);
        }
        if (!loaded.emplace(ocpp::ascii_lower(c.station_id), c).second) {
            throw std::runtime_error(where + ": " + c.station_id + " is listed twice");
        }
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (auto& [key, c] : loaded) {
        stations_[key] = std::move(c);
    }
}

std::optional<std::string> StationRegistry::apply_record(const std::string& key,
                                                         const std::optional<std::string>& value,
                                                         std::int32_t partition,
                                                         std::int64_t timestamp_ms,
                                                         std::chrono::system_clock::time_point now) {
    if (ocpp::identity_error(key)) {
        return "key " + ocpp::quote(key) + " is not a station identity";
    }
    const std::int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    if (!value) {
        const std::string id = ocpp::ascii_lower(key);
        std::unique_lock<std::shared_mutex> lock(mutex_);
        if (auto older = take_origin(key, partition, timestamp_ms, /*removal=*/true, now_ms)) {
            return older;
        }
        stations_.erase(id);
        return std::nullopt;
    }
    auto read = kafka_bridge::read_record_json(*value);
    if (!read.ok()) {
        return "value is not a JSON object: " + read.error();
    }
    const nlohmann::json doc = std::move(read).value();
    if (!doc.is_object()) {
        return std::string("value is not a JSON object");
    }
    StationCredential c;
    c.station_id = key;
    if (const auto id = doc.find("stationId"); id != doc.end()) {
        if (!id->is_string() || ocpp::ascii_lower(id->get<std::string>()) != ocpp::ascii_lower(key)) {
            return std::string("stationId differs from the record key");
        }
        c.station_id = id->get<std::string>();
    }
    if (const auto h = doc.find("passwordHash"); h != doc.end() && !h->is_null()) {
        if (!h->is_string() || password_hash_error(h->get<std::string>())) {
            return "passwordHash is " + *password_hash_error(h->is_string() ? h->get<std::string>() : "");
        }
        c.password_hash = h->get<std::string>();
    }
    if (const auto e = doc.find("enabled"); e != doc.end()) {
        if (!e->is_boolean()) {
            return std::string("enabled must be true or false");
        }
        c.enabled = e->get<bool>();
    }
    if (const auto b = doc.find("boot"); b != doc.end() && !b->is_null()) {
        if (!b->is_string() || !is_boot_status(b->get<std::string>())) {
            return std::string("boot must be \"Accepted\", \"Pending\" or \"Rejected\"");
        }
        c.boot_status = b->get<std::string>();
    }
    if (const auto i = doc.find("heartbeatInterval"); i != doc.end() && !i->is_null()) {
        if (!i->is_number_integer() || i->get<long long>() < 1 || i->get<long long>() > kMaxInterval) {
            return std::string("heartbeatInterval must be an integer from 1 to 86400 (seconds)");
        }
        c.heartbeat_interval = std::chrono::seconds(i->get<long long>());
    }
    if (const auto p = doc.find("pingInterval"); p != doc.end() && !p->is_null()) {
        if (!p->is_number_integer() || p->get<long long>() < 0 || p->get<long long>() > kMaxInterval) {
            return std::string("pingInterval must be an integer from 0 (no pings) to 86400 (seconds)");
        }
        c.ping_interval = std::chrono::seconds(p->get<long long>());
    }
    if (const auto p = doc.find("pongTimeout"); p != doc.end() && !p->is_null()) {
        if (!p->is_number_integer() || p->get<long long>() < kMinPongMs || p->get<long long>() > kMaxPongMs) {
            return std::string("pongTimeout must be an integer from 100 to 600000 (milliseconds)");
        }
        c.pong_timeout = std::chrono::milliseconds(p->get<long long>());
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    if (auto older = take_origin(key, partition, timestamp_ms, /*removal=*/false, now_ms)) {
        return older;
    }
    stations_[ocpp::ascii_lower(key)] = std::move(c);
    return std::nullopt;
}

std::optional<std::string> StationRegistry::take_origin(const std::string& key,
                                                        std::int32_t partition,
                                                        std::int64_t timestamp_ms, bool removal,
                                                        std::int64_t now_ms) {
    removed_.expire(now_ms);
    const std::string id = ocpp::ascii_lower(key);
    const auto it = origins_.find(id);
    const auto kept = removed_.judge(id, it != origins_.end() ? &it->second : nullptr,
                                     kafka_bridge::RecordOrigin::of(key, partition, timestamp_ms));
    if (!kept) {
        return std::string("older than the record that stands for this identity under another "
                           "spelling or from another partition (write each identity under one "
                           "spelling)");
    }
    if (removal) {
        if (it != origins_.end()) {
            origins_.erase(it);
        }
        removed_.remember(id, *kept, now_ms);
    } else {
        removed_.forget(id);
        origins_[id] = *kept;
    }
    return std::nullopt;
}

bool StationRegistry::empty() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return stations_.empty();
}

std::size_t StationRegistry::size() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return stations_.size();
}

Keepalive keepalive_for(const std::optional<StationCredential>& entry, Keepalive defaults) {
    Keepalive k = defaults;
    if (entry && entry->ping_interval) {
        k.ping_interval = *entry->ping_interval;
    }
    if (entry && entry->pong_timeout) {
        k.pong_timeout = *entry->pong_timeout;
    }
    if (k.ping_interval.count() > 0 && k.pong_timeout >= k.ping_interval) {
        k.pong_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(k.ping_interval) / 2;
    }
    return k;
}

std::optional<StationCredential> StationRegistry::find(std::string_view station_id) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const auto it = stations_.find(ocpp::ascii_lower(station_id));
    if (it == stations_.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool StationRegistry::cached(const std::string& key, const std::string& digest,
                             const std::string& hash, std::chrono::steady_clock::time_point now) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    const auto it = verified_.find(key);
    return it != verified_.end() && it->second.until > now && it->second.hash == hash &&
           security::constant_time_equal(it->second.password_digest, digest);
}

bool StationRegistry::verified_recently(std::string_view station_id, std::string_view password) {
    const auto credential = find(station_id);
    return credential && !credential->password_hash.empty() &&
           cached(ocpp::ascii_lower(station_id), kafka_bridge::sha256_hex(password),
                  credential->password_hash, std::chrono::steady_clock::now());
}

StationRegistry::Verdict StationRegistry::verify(std::string_view station_id,
                                                 std::string_view password,
                                                 ocpp::ProtocolVersion version,
                                                 std::chrono::seconds cache_for) {
    const auto credential = find(station_id);
    if (!credential) {
        return Verdict::unknown_station;
    }
    if (!credential->enabled) {
        return Verdict::disabled;
    }
    if (credential->password_hash.empty()) {
        return Verdict::bad_credentials;  // no password registered: Basic cannot succeed
    }
    const std::string key = ocpp::ascii_lower(station_id);
    const std::string digest = kafka_bridge::sha256_hex(password);
    const auto now = std::chrono::steady_clock::now();
    if (cached(key, digest, credential->password_hash, now)) {
        return Verdict::ok;
    }
    bool ok = password_matches(credential->password_hash, password);
    if (!ok && version == ocpp::ProtocolVersion::v16) {
        for (const auto& form : hex_forms(password)) {
            if (password_matches(credential->password_hash, form)) {
                ok = true;
                break;
            }
        }
    }
    if (!ok) {
        return Verdict::bad_credentials;
    }
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (verified_.size() > 200000) {
        verified_.clear();  // bounded; a storm after this only costs the PBKDF2 again
    }
    verified_[key] = Cached{digest, credential->password_hash, now + cache_for};
    return Verdict::ok;
}

StationRegistry::Checked StationRegistry::verify_for_later(std::string_view station_id,
                                                           std::string_view password,
                                                           ocpp::ProtocolVersion version) {
    const auto before = find(station_id);
    Checked checked{verify(station_id, password, version), std::nullopt};
    const auto after = find(station_id);
    if (before && after && before->enabled && after->enabled &&
        before->password_hash == after->password_hash) {
        checked.hash = after->password_hash;
    }
    return checked;
}

bool StationRegistry::still_holds(std::string_view station_id, const Checked& checked) const {
    const auto credential = find(station_id);
    return credential && credential->enabled && checked.hash && credential->password_hash == *checked.hash;
}

}  // namespace gateway::security
