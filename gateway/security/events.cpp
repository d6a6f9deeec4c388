#include "gateway/security/events.hpp"

#include <array>

#include "kafka_bridge/envelope.hpp"

namespace gateway::security {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kNames = {
    "AuthFailed",         "AuthThrottled", "UnknownStation", "DuplicateIdentity",
    "DuplicateIdentityFlapping", "RateLimited", "LimitHit",  "CertificateRejected",
    "StationClockOff"};

}  // namespace

std::string_view event_type_name(EventType type) { return kNames[static_cast<std::size_t>(type)]; }

void EventWriter::raise(EventType type, const std::string& station_id, const std::string& address,
                        const std::string& detail) {
    kafka_bridge::SecurityEvent event{std::string(event_type_name(type)), station_id, address,
                                      detail};
    const std::string key = station_id.empty() ? address : station_id;
    kafka_bridge::Record record{config_.topics.for_class(ocpp::EventClass::security), key,
                                kafka_bridge::security_event(event, config_.gateway_id,
                                                             kafka_bridge::now_rfc3339()),
                                {{"content-type", "application/json"}, {"ocpp-source", "gateway"}}};
    auto& metrics = metrics_;
    auto queued = producers_.current()->produce(
        record, [&metrics, topic = record.topic](const kafka_bridge::Delivery& d) {
            if (!d.ok()) {
                metrics.delivery_failure(topic);
            }
        });
    if (!queued.ok()) {
        metrics_.delivery_failure(record.topic);
    }
}

}  // namespace gateway::security
