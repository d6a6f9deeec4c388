#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ocpp/result.hpp"
#include "ocpp/types.hpp"

namespace ocpp {

/// Longest station identity (OCPP identifierString of a charging station).
inline constexpr std::size_t kMaxStationIdLength = 48;

/// Checks an identity against the contract: 1..48 characters of the OCPP identifierString
/// set (letters, digits, `*-_=+|@.`), no ':', not "." or "..". Returns the problem in words,
/// or nothing when valid.
std::optional<std::string> identity_error(std::string_view identity);

/// The identity as a StationId, or the problem in words.
Result<StationId, std::string> parse_station_id(std::string_view identity);

}  // namespace ocpp
