#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ocpp/result.hpp"
#include "ocpp/version.hpp"

namespace gateway {

/// Iterations of a new password hash: about 40 ms on one core of a 2-core cloud VM (2026);
/// verified once per connection and then cached (see StationRegistry::verify).
inline constexpr unsigned kDefaultPasswordIterations = 100000;

/// "pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>" for `password`, with a random
/// 16-byte salt and a 32-byte key.
std::string hash_password(std::string_view password, unsigned iterations = kDefaultPasswordIterations);

/// Whether `password` matches `encoded` (constant time in the key comparison). A malformed
/// `encoded` never matches.
bool password_matches(std::string_view encoded, std::string_view password);

/// Checks the form of an encoded hash; the problem in words, or nothing when well-formed.
std::optional<std::string> password_hash_error(std::string_view encoded);

/// One station allowed to connect.
struct StationCredential {
    std::string station_id;
    /// Empty: no password (only for listeners without Basic authentication).
    std::string password_hash;
    bool enabled = true;
};

/// Which identities may connect and how they prove it: from a file at start-up and from the
/// compacted topic ocpp.stations (changes apply to new connections at once). Thread-safe.
class StationRegistry {
public:
    /// Reads a YAML file: `stations: [{id: CS01, password_hash: "pbkdf2-sha256$…"}, …]`.
    /// Throws std::runtime_error with the file, entry and problem (start-up only).
    void load_file(const std::string& path);
    /// Applies a record of the stations topic (key: station id; value JSON
    /// {"stationId", "passwordHash", "enabled"}; null: removed). Returns the problem in words
    /// when the record is unusable (it is then ignored).
    std::optional<std::string> apply_record(const std::string& key,
                                            const std::optional<std::string>& value);
    /// Whether any identity is registered (an empty registry lets every identity in on a
    /// listener without authentication).
    bool empty() const;
    std::optional<StationCredential> find(std::string_view station_id) const;

    enum class Verdict : std::uint8_t { ok, unknown_station, disabled, bad_credentials };
    /// Checks `password` for `station_id`. OCPP 1.6 stations mix up the AuthorizationKey's
    /// hex text and its bytes, so for 1.6 a hex password also matches as the bytes it spells
    /// and any password also as its hex text. A successful check is remembered (SHA-256 of
    /// the password) for `cache_for`, so reconnect storms do not recompute PBKDF2.
    Verdict verify(std::string_view station_id, std::string_view password,
                   ocpp::ProtocolVersion version,
                   std::chrono::seconds cache_for = std::chrono::minutes(10));
    std::size_t size() const;

private:
    struct Cached {
        std::string password_digest;
        std::string hash;  // the stored hash it was checked against
        std::chrono::steady_clock::time_point until;
    };
    mutable std::shared_mutex mutex_;
    std::map<std::string, StationCredential, std::less<>> stations_;  // lower-case id
    std::mutex cache_mutex_;
    std::map<std::string, Cached, std::less<>> verified_;
};

/// Failed attempts per key (identity or address) with exponential backoff: after `limit`
/// failures within `window`, the key is refused for `base_backoff`, doubling with each further
/// failure up to `max_backoff`. Memory is bounded by `max_keys` (the oldest entries go first).
class AttemptThrottle {
public:
    using Clock = std::chrono::steady_clock;
    struct Settings {
        unsigned limit = 5;
        std::chrono::seconds window{60};
        std::chrono::seconds base_backoff{1};
        std::chrono::seconds max_backoff{300};
        std::size_t max_keys = 100000;
    };
    explicit AttemptThrottle(Settings settings) : settings_(settings) {}

    /// Zero when `key` may try now; else how long it must wait.
    std::chrono::seconds retry_after(const std::string& key, Clock::time_point now);
    /// Counts a failure; true when it starts a refusal period (the limit was just reached, or
    /// reached again after a period ended), so each period can be reported once.
    bool failure(const std::string& key, Clock::time_point now);
    void success(const std::string& key);

private:
    struct Entry {
        unsigned failures = 0;
        Clock::time_point first;
        Clock::time_point blocked_until;
        std::chrono::seconds backoff{0};
    };
    Settings settings_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
};

/// A token bucket: `rate` per second, bursts of `burst`. Thread-safe.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
    /// Takes one token if there is one.
    bool try_take(Clock::time_point now);

private:
    std::mutex mutex_;
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_{};
};

}  // namespace gateway
