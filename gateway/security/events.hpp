#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/config/config.hpp"
#include "gateway/metrics/metrics.hpp"
#include "kafka_bridge/producer_slot.hpp"

namespace gateway::security {

/// Refusals and replacements the gateway reports on the security topic
/// (schemas/events/security-event.schema.json).
enum class EventType : std::uint8_t {
    auth_failed,
    auth_throttled,
    unknown_station,
    duplicate_identity,
    duplicate_identity_flapping,
    rate_limited,
    limit_hit,
    certificate_rejected,
    station_clock_off,
};
inline constexpr std::size_t kEventTypeCount = 9;

/// The wire name of `type` ("AuthFailed", …).
std::string_view event_type_name(EventType type);

/// Where gateway-made security events go. Thread-safe.
class EventSink {
public:
    virtual ~EventSink() = default;
    /// `station_id` may be empty (no identity could be read); `detail` never holds secrets.
    virtual void raise(EventType type, const std::string& station_id, const std::string& address,
                       const std::string& detail) = 0;
};

/// Writes security events to the security topic (header `ocpp-source: gateway`, key: the
/// station, else the address). A record Kafka does not take is counted as a delivery failure.
class EventWriter final : public EventSink {
public:
    EventWriter(const config::Config& config, kafka_bridge::ProducerSlot& producers,
                metrics::Metrics& metrics)
        : config_(config), producers_(producers), metrics_(metrics) {}

    void raise(EventType type, const std::string& station_id, const std::string& address,
               const std::string& detail) override;

private:
    const config::Config& config_;
    kafka_bridge::ProducerSlot& producers_;
    metrics::Metrics& metrics_;
};

}  // namespace gateway::security
