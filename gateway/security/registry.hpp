#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "kafka_bridge/table_order.hpp"
#include "ocpp/version.hpp"

namespace gateway::security {

/// One station allowed to connect.
struct StationCredential {
    std::string station_id;
    /// Empty: no password (only for listeners without Basic authentication).
    std::string password_hash;
    bool enabled = true;
    /// BootNotification status for this station (Accepted, Pending, Rejected); empty: the
    /// configured default.
    std::string boot_status;
    /// Heartbeat interval sent when Accepted; nothing: the configured one.
    std::optional<std::chrono::seconds> heartbeat_interval;
    /// WebSocket keep-alive of this station's connections; nothing: limits.ping_interval_s /
    /// limits.pong_timeout_ms. A ping interval of 0: no pings (stations that cannot answer
    /// them); a short one: stations whose network drops idle sockets after 30–45 s.
    std::optional<std::chrono::seconds> ping_interval;
    std::optional<std::chrono::milliseconds> pong_timeout;
};

/// The keep-alive of one connection.
struct Keepalive {
    std::chrono::seconds ping_interval{0};  ///< 0: no pings
    std::chrono::milliseconds pong_timeout{0};
};
/// `defaults` with what `entry` overrides; a pong timeout that is not shorter than the ping
/// interval is cut to half of it (a pong must be able to arrive before the next ping).
Keepalive keepalive_for(const std::optional<StationCredential>& entry, Keepalive defaults);

/// Which identities may connect and how they prove it: from a file at start-up and from the
/// compacted topic ocpp.stations (changes apply to new connections at once). Thread-safe.
class StationRegistry {
public:
    /// Reads a YAML file: `stations: [{id: CS01, password_hash: "pbkdf2-sha256$…",
    /// boot: Pending, heartbeat_interval_s: 600, ping_interval_s: 20, pong_timeout_ms: 5000}, …]`.
    /// Throws std::runtime_error with the file, entry and problem (start-up only).
    void load_file(const std::string& path);
    /// Applies a record of the stations topic (key: station id; value JSON
    /// {"stationId", "passwordHash", "enabled", "boot", "heartbeatInterval", "pingInterval",
    /// "pongTimeout"}; null: removed), read from `partition` (-1: not known; records are then
    /// taken in the order applied) with its time `timestamp_ms`. Identities are compared
    /// without case: records of one under two spellings, or from two partitions (the topic
    /// grew), are ordered by kafka_bridge::supersede, the same on every instance. Returns the
    /// problem in words when the record is unusable, or older than the one that stands for
    /// the identity (it is then ignored). A removal is remembered for that for a day after
    /// `now`.
    std::optional<std::string> apply_record(
        const std::string& key, const std::optional<std::string>& value,
        std::int32_t partition = -1, std::int64_t timestamp_ms = -1,
        std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
    /// Whether any identity is registered (an empty registry lets every identity in on a
    /// listener without authentication).
    bool empty() const;
    std::optional<StationCredential> find(std::string_view station_id) const;

    enum class Verdict : std::uint8_t { ok, unknown_station, disabled, bad_credentials };
    /// Whether `password` was verified for `station_id` within the cache time and the
    /// station's hash is unchanged since: verify() then does no PBKDF2.
    bool verified_recently(std::string_view station_id, std::string_view password);
    /// Checks `password` for `station_id`. OCPP 1.6 stations mix up the AuthorizationKey's
    /// hex text and its bytes, so for 1.6 a hex password also matches as the bytes it spells
    /// and any password also as its hex text. A successful check is remembered (SHA-256 of
    /// the password) for `cache_for`, so reconnect storms do not recompute PBKDF2.
    Verdict verify(std::string_view station_id, std::string_view password,
                   ocpp::ProtocolVersion version,
                   std::chrono::seconds cache_for = std::chrono::minutes(10));
    /// A verdict of verify() kept for later (a check run before its request is decided), with
    /// the hash it was reached against ("" for a station registered without one): nothing
    /// when the station was not registered and enabled, or its credential changed while the
    /// check ran.
    struct Checked {
        Verdict verdict{};
        std::optional<std::string> hash;
    };
    /// verify(), for a verdict used later: see still_holds().
    Checked verify_for_later(std::string_view station_id, std::string_view password,
                             ocpp::ProtocolVersion version);
    /// Whether `checked` still says what verify() would: the station is registered, enabled
    /// and has the hash it was reached against.
    bool still_holds(std::string_view station_id, const Checked& checked) const;
    std::size_t size() const;

private:
    bool cached(const std::string& key, const std::string& digest, const std::string& hash,
                std::chrono::steady_clock::time_point now);
    /// Whether a record of `key` stands against the one that stood (then remembers where it
    /// came from, as a removal when `removal`); else why not. Under mutex_.
    std::optional<std::string> take_origin(const std::string& key, std::int32_t partition,
                                           std::int64_t timestamp_ms, bool removal,
                                           std::int64_t now_ms);

    struct Cached {
        std::string password_digest;
        std::string hash;  // the stored hash it was checked against
        std::chrono::steady_clock::time_point until;
    };
    mutable std::shared_mutex mutex_;
    std::map<std::string, StationCredential, std::less<>> stations_;  // lower-case id
    /// Where the record that stands for each identity came from (none: from the file).
    std::map<std::string, kafka_bridge::RecordOrigin, std::less<>> origins_;  // lower-case id
    kafka_bridge::Deletions removed_;                                         // lower-case ids
    std::mutex cache_mutex_;
    std::map<std::string, Cached, std::less<>> verified_;
};

}  // namespace gateway::security
