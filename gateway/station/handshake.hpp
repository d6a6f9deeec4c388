#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.hpp"
#include "ocpp/result.hpp"
#include "ocpp/types.hpp"
#include "ocpp/version.hpp"

namespace gateway::station {

/// Why an upgrade is refused: the HTTP answer and the metric label.
struct Refusal {
    int status = 400;      ///< HTTP status (400, 401, 404, 429, 503)
    std::string reason;    ///< label of ocpp_handshakes_refused_total, also the body
    int retry_after = 0;   ///< seconds for a Retry-After header; 0: none
};

/// What an acceptable upgrade request asks for.
struct Handshake {
    ocpp::StationId station_id;
    /// Its tenant: an index into config.tenants (0 when the gateway serves no tenants).
    std::size_t tenant = 0;
    ocpp::ProtocolVersion version;
    /// The subprotocol to select; nothing when the station sent none (version defaulted).
    std::optional<std::string> subprotocol;
};

/// Reads an upgrade request: the request target (`prefix/{stationId}`, percent-decoded
/// identity; 404 unknown_path, 400 bad_identity; `prefix/{tenant}/{stationId}` when tenants
/// are configured, 404 unknown_tenant), the allow-list (404 unknown_station) and
/// the offered subprotocols, the station's order of preference winning (400 no_subprotocol,
/// unsupported_subprotocol). Pure.
ocpp::Result<Handshake, Refusal> read_handshake(const config::Config& config,
                                                std::string_view resource,
                                                const std::vector<std::string>& subprotocols);

}  // namespace gateway::station
