#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ocpp/version.hpp"

namespace loadgen {

/// The station-initiated actions the generator sends.
enum class Action : std::uint8_t {
    heartbeat,
    meter_values,
    status_notification,
    authorize,
    boot_notification,
};

inline constexpr std::size_t kActionCount = 5;

std::string_view action_name(Action a);

/// One entry of a traffic mix: `action` gets `percent` of the sends.
struct MixShare {
    Action action;
    unsigned percent;
};

/// The realistic mix. The percentages add up to 100.
inline constexpr std::array<MixShare, 4> kRealisticMix = {{
    {Action::meter_values, 60},
    {Action::status_notification, 20},
    {Action::heartbeat, 15},
    {Action::authorize, 5},
}};

/// Small fast generator for picking actions and varying values (not for security).
class Xorshift {
public:
    explicit Xorshift(std::uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
    std::uint64_t next();
    /// Uniform in [0, n).
    std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }

private:
    std::uint64_t state_;
};

/// Picks the action of the next realistic-mix send.
Action pick_realistic(Xorshift& rng);

/// A station's meter, advanced a little before each reading.
struct Meter {
    double energy_wh = 15000.0;
    double power_w = 7360.0;
    std::array<double, 3> current_a{10.7, 10.7, 10.7};

    void advance(Xorshift& rng);
};

/// The RFC 3339 UTC time with milliseconds, e.g. 2026-03-01T10:15:30.123Z.
std::string utc_timestamp(std::chrono::system_clock::time_point t);
std::string utc_now();

// Request payloads, valid against the official schemas of the version.

nlohmann::json boot_notification(ocpp::ProtocolVersion v, std::string_view station_id);
nlohmann::json heartbeat();
nlohmann::json authorize(ocpp::ProtocolVersion v, std::string_view token);
/// Five sampled values: energy, power, current of three phases. `transaction_id` only for 1.6.
nlohmann::json meter_values(ocpp::ProtocolVersion v, const Meter& m, const std::string& timestamp,
                            std::optional<std::int64_t> transaction_id = std::nullopt,
                            int evse_or_connector = 1);
/// `step` walks through the connector states of a charging cycle.
nlohmann::json status_notification(ocpp::ProtocolVersion v, std::uint32_t step,
                                   const std::string& timestamp);

// The payloads the generator sends most, written as JSON text directly: byte for byte what
// ocpp::write_json writes for the trees above (meter values with their defaults: connector or
// EVSE 1, no transaction id; nlohmann's key order, its number format), without building and
// freeing a tree per message (docs/benchmarks.md, "A cheaper load generator").

void append_meter_values(std::string& out, ocpp::ProtocolVersion v, const Meter& m,
                         const std::string& timestamp);
void append_status_notification(std::string& out, ocpp::ProtocolVersion v, std::uint32_t step,
                                const std::string& timestamp);
void append_authorize(std::string& out, ocpp::ProtocolVersion v, std::string_view token);

/// A station's RFID token derived from its number (at most 20 characters).
std::string token_for(std::size_t station_number);

// The 1.6 transaction messages.
nlohmann::json start_transaction(std::string_view token, std::int64_t meter_start_wh,
                                 const std::string& timestamp);
nlohmann::json stop_transaction(std::int64_t transaction_id, std::string_view token,
                                std::int64_t meter_stop_wh, const std::string& timestamp);

/// The 2.0.1 TransactionEvent. `event_type` is Started, Updated or Ended.
struct TransactionEventArgs {
    std::string event_type;
    std::string trigger_reason;
    int seq_no = 0;
    std::string transaction_id;
    std::string charging_state;
    std::optional<std::string> stopped_reason;
    std::optional<std::string> token;
    std::optional<double> energy_wh;  ///< one Energy.Active.Import.Register sample
    std::string reading_context;      ///< Transaction.Begin, Sample.Periodic, Transaction.End
};
nlohmann::json transaction_event(const TransactionEventArgs& args, const std::string& timestamp);

}  // namespace loadgen
