#include "gateway/session/freshness.hpp"

#include "kafka_bridge/commands.hpp"

namespace gateway::session {
namespace {

std::optional<std::int64_t> time_of(const nlohmann::json& object, const char* name) {
    const auto it = object.find(name);
    if (it == object.end() || !it->is_string()) {
        return std::nullopt;
    }
    return kafka_bridge::parse_time_ms(it->get_ref<const std::string&>());
}

}  // namespace

std::optional<std::int64_t> station_time_ms(const nlohmann::json& payload) {
    if (!payload.is_object()) {
        return std::nullopt;
    }
    if (const auto samples = payload.find("meterValue");
        samples != payload.end() && samples->is_array()) {
        std::optional<std::int64_t> newest;
        for (const auto& sample : *samples) {
            if (!sample.is_object()) {
                continue;
            }
            if (const auto t = time_of(sample, "timestamp"); t && (!newest || *t > *newest)) {
                newest = t;
            }
        }
        if (newest) {
            return newest;
        }
    }
    if (const auto t = time_of(payload, "timestamp")) {
        return t;
    }
    return time_of(payload, "generatedAt");
}

ClockCheck check_clock(std::int64_t station_ms, std::int64_t received_ms,
                  const config::Config::Freshness& tolerance) {
    const std::int64_t ahead_ms = std::chrono::milliseconds(tolerance.clock_ahead).count();
    const std::int64_t behind_ms = std::chrono::milliseconds(tolerance.clock_behind).count();
    if (station_ms > received_ms + ahead_ms) {
        return ClockCheck::ahead;
    }
    if (station_ms < received_ms - behind_ms) {
        return ClockCheck::behind;
    }
    return ClockCheck::fine;
}

}  // namespace gateway::session
