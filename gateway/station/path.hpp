#pragma once

#include <string>
#include <string_view>

#include "ocpp/result.hpp"
#include "ocpp/types.hpp"

namespace gateway::station {

/// Why a request target names no station: HTTP status and a short reason (for logs/metrics).
struct PathRefusal {
    int status;          ///< 404 (not a station endpoint) or 400 (malformed identity)
    std::string reason;  ///< "unknown_path" or "bad_identity"
};

/// The station identity in a WebSocket request target, per the contract: `prefix/{id}`, one
/// path segment, percent-decoded, 1–48 characters of the identifierString set, no ':'. A
/// query string is ignored. Pure and allocation-bounded (fuzzed).
ocpp::Result<ocpp::StationId, PathRefusal> parse_station_path(std::string_view resource,
                                                          std::string_view prefix);

}  // namespace gateway::station
