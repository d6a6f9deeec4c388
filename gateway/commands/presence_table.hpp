#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka_bridge/commands.hpp"

namespace gateway::commands {

using kafka_bridge::Presence;

/// The cluster's view of who holds which station, built from ocpp.presence. Not thread-safe.
class PresenceTable {
public:
    /// Instances whose last liveness record is older than this are considered gone. `self`:
    /// this instance, alive whatever its records say (it knows it runs; its own liveness
    /// records stall with the partition they go to while a broker fails over).
    explicit PresenceTable(std::chrono::milliseconds instance_timeout, std::string self = {})
        : instance_timeout_(instance_timeout), self_(std::move(self)) {}

    struct Change {
        /// A Connected record: the station now belongs to `presence.gateway_id`.
        std::optional<Presence> connected;
    };

    /// Applies the record at `offset` (value nullopt: tombstone). `timestamp_ms` is the
    /// record's timestamp. Malformed records are ignored (returned false).
    bool apply(const std::string& key, const std::optional<std::string>& value,
               std::int64_t offset, std::int64_t timestamp_ms, Change* change = nullptr);

    /// The station's current connection, if it has one on an instance that is alive at
    /// `now_ms` (unix ms).
    std::optional<Presence> holder(std::string_view station_id, std::int64_t now_ms) const;
    /// The last record about the station, connected or not, regardless of liveness.
    std::optional<Presence> last(std::string_view station_id) const;
    bool gateway_alive(const std::string& gateway_id, std::int64_t now_ms) const;
    /// The instances alive at `now_ms`, sorted by id.
    std::vector<std::string> alive_gateways(std::int64_t now_ms) const;
    /// Every station connected on a live instance.
    std::vector<Presence> connected(std::int64_t now_ms) const;
    /// Stations whose last record says they are connected to `gateway_id`.
    std::vector<Presence> held_by(const std::string& gateway_id) const;

private:
    struct Liveness {
        bool alive = false;
        std::int64_t last_ms = 0;
    };
    std::chrono::milliseconds instance_timeout_;
    std::string self_;
    std::map<std::string, Presence, std::less<>> stations_;  // by lower-case id
    std::map<std::string, Liveness, std::less<>> gateways_;
};

}  // namespace gateway::commands
