#include "gateway/station/handshake.hpp"

#include <algorithm>

#include "gateway/station/path.hpp"

namespace gateway::station {

ocpp::Result<Handshake, Refusal> read_handshake(const config::Config& config,
                                                std::string_view resource,
                                                const std::vector<std::string>& subprotocols) {
    std::size_t tenant = 0;
    std::optional<ocpp::StationId> identity;
    if (config.tenants.empty()) {
        auto path = parse_station_path(resource, config.path_prefix);
        if (!path.ok()) {
            return Refusal{path.error().status, path.error().reason, 0};
        }
        identity = std::move(path.value());
    } else {
        auto path = parse_tenant_station_path(resource, config.path_prefix);
        if (!path.ok()) {
            return Refusal{path.error().status, path.error().reason, 0};
        }
        const auto& tenants = config.tenants;
        const auto it = std::find_if(tenants.begin(), tenants.end(),
                                     [&path](const auto& t) { return t.name == path.value().tenant; });
        if (it == tenants.end()) {
            return Refusal{404, "unknown_tenant", 0};
        }
        tenant = static_cast<std::size_t>(it - tenants.begin());
        identity = std::move(path.value().station_id);
    }
    ocpp::StationId station_id = std::move(*identity);
    if (!config.allowed_stations.empty() &&
        config.allowed_stations.count(ocpp::ascii_lower(station_id.get())) == 0) {
        return Refusal{404, "unknown_station", 0};
    }
    const auto negotiation =
        ocpp::negotiate(subprotocols, config.versions, config.missing_subprotocol);
    using Outcome = ocpp::Negotiation::Outcome;
    switch (negotiation.outcome) {
        case Outcome::selected:
            return Handshake{std::move(station_id), tenant, *negotiation.version,
                             std::string(ocpp::subprotocol(*negotiation.version))};
        case Outcome::defaulted:
            return Handshake{std::move(station_id), tenant, *negotiation.version, std::nullopt};
        case Outcome::missing_refused:
            return Refusal{400, "no_subprotocol", 0};
        case Outcome::none_supported:
            break;
    }
    return Refusal{400, "unsupported_subprotocol", 0};
}

}  // namespace gateway::station
