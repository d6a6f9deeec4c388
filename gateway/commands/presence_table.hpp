#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
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
    /// `now_ms` (unix ms). What the table gives back of a record is what it was, except
    /// `at` (when the record was written), which it does not keep.
    std::optional<Presence> holder(std::string_view station_id, std::int64_t now_ms) const;
    /// The last record about the station, connected or not, regardless of liveness.
    std::optional<Presence> last(std::string_view station_id) const;
    bool gateway_alive(const std::string& gateway_id, std::int64_t now_ms) const;
    /// The run of the instance's last liveness record (0: none known); for this instance,
    /// its own run once set_self_run() was called.
    std::int64_t gateway_run(const std::string& gateway_id) const;
    void set_self_run(std::int64_t run) { self_run_ = run; }
    /// The timestamp (unix ms) of the last liveness record of `gateway_id` read, this
    /// instance's own included; 0: none.
    std::int64_t last_liveness_ms(const std::string& gateway_id) const;
    /// The instances alive at `now_ms`, sorted by id.
    std::vector<std::string> alive_gateways(std::int64_t now_ms) const;
    /// Every station connected on a live instance.
    std::vector<Presence> connected(std::int64_t now_ms) const;
    /// Stations whose last record says they are connected to `gateway_id`.
    std::vector<Presence> held_by(const std::string& gateway_id) const;

private:
    /// A station's last record as the table keeps it: every instance holds one per station of
    /// the whole fleet, so instance ids are interned and times and v4 session ids are packed
    /// (about a quarter of a `Presence`). A record whose session id or `since` would not come
    /// back byte for byte from the packed form keeps both as text in `odd`.
    struct Odd {
        std::string session_id;
        std::string since;
    };
    struct Entry {
        std::int64_t epoch = -1;
        std::int64_t since_ms = kNoTime;
        std::uint32_t instance = 0;
        bool connected = false;
        std::uint8_t version = 0;  ///< 0: none; else the ProtocolVersion + 1
        bool has_session = false;  ///< `session` holds a v4 session id
        std::array<std::uint8_t, 16> session{};
        std::unique_ptr<Odd> odd;
    };
    struct Instance {
        std::string id;
        bool alive = false;
        std::int64_t last_ms = 0;
        std::int64_t run = 0;
    };
    /// Station ids are case-insensitive: one entry per station, under the id's last spelling.
    struct CaseInsensitiveLess {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const;
    };
    static constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();

    std::uint32_t intern(std::string_view gateway_id);
    bool alive(std::uint32_t instance, std::int64_t now_ms) const;
    Entry pack(const Presence& p);
    Presence unpack(const std::string& station_id, const Entry& e) const;

    std::chrono::milliseconds instance_timeout_;
    std::string self_;
    std::map<std::string, Entry, CaseInsensitiveLess> stations_;
    std::vector<Instance> instances_;  // by interned index
    std::map<std::string, std::uint32_t, std::less<>> instance_index_;
    std::uint32_t self_index_ = std::numeric_limits<std::uint32_t>::max();  ///< once interned
    std::int64_t self_run_ = 0;
};

}  // namespace gateway::commands
