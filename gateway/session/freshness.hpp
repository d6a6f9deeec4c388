#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"

namespace gateway::session {

/// The moment a station says its event happened, in Unix milliseconds: the newest
/// `meterValue[].timestamp` (MeterValues: the newest sample is what a dashboard shows), else
/// a top-level `timestamp` (StatusNotification, Start/StopTransaction, TransactionEvent,
/// SecurityEventNotification, ...), else `generatedAt` (NotifyEvent, NotifyReport, ...).
/// Nothing when the payload has none or it is not an RFC 3339 date-time.
std::optional<std::int64_t> station_time_ms(const nlohmann::json& payload);

/// Whether a station timestamp says the station's clock is off.
enum class ClockCheck : std::uint8_t { fine, ahead, behind };
ClockCheck check_clock(std::int64_t station_ms, std::int64_t received_ms,
                  const config::Config::Freshness& tolerance);

}  // namespace gateway::session
