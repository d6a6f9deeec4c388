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

/// A station's place in a gateway serving tenants: `prefix/{tenant}/{id}`.
struct TenantStation {
    std::string tenant;  ///< as in the URL (not decoded: tenant names need no escaping)
    ocpp::StationId station_id;
};

/// The tenant and station identity in a request target `prefix/{tenant}/{id}`: the tenant one
/// non-empty path segment, the identity as parse_station_path() reads it. Pure.
ocpp::Result<TenantStation, PathRefusal> parse_tenant_station_path(std::string_view resource,
                                                                   std::string_view prefix);

}  // namespace gateway::station
