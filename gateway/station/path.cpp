#include "gateway/station/path.hpp"

#include "gateway/http/url.hpp"
#include "ocpp/identity.hpp"

namespace gateway::station {

ocpp::Result<ocpp::StationId, PathRefusal> parse_station_path(std::string_view resource,
                                                          std::string_view prefix) {
    if (const auto q = resource.find('?'); q != std::string_view::npos) {
        resource = resource.substr(0, q);
    }
    if (resource.size() <= prefix.size() || resource.compare(0, prefix.size(), prefix) != 0 ||
        resource[prefix.size()] != '/') {
        return PathRefusal{404, "unknown_path"};
    }
    const std::string_view segment = resource.substr(prefix.size() + 1);
    if (segment.empty() || segment.find('/') != std::string_view::npos) {
        return PathRefusal{404, "unknown_path"};
    }
    if (segment.size() > 3 * ocpp::kMaxStationIdLength) {
        return PathRefusal{400, "bad_identity"};  // longer than any encoding of 48 characters
    }
    auto decoded = http::percent_decode(segment);
    if (!decoded) {
        return PathRefusal{400, "bad_identity"};
    }
    auto identity = ocpp::parse_station_id(*decoded);
    if (!identity.ok()) {
        return PathRefusal{400, "bad_identity"};
    }
    return std::move(identity.value());
}

ocpp::Result<TenantStation, PathRefusal> parse_tenant_station_path(std::string_view resource,
                                                                   std::string_view prefix) {
    if (resource.size() <= prefix.size() || resource.compare(0, prefix.size(), prefix) != 0 ||
        resource[prefix.size()] != '/') {
        return PathRefusal{404, "unknown_path"};
    }
    const auto end = resource.find_first_of("/?", prefix.size() + 1);
    if (end == std::string_view::npos || resource[end] != '/' || end == prefix.size() + 1) {
        return PathRefusal{404, "unknown_path"};
    }
    auto identity = parse_station_path(resource, resource.substr(0, end));
    if (!identity.ok()) {
        return identity.error();
    }
    return TenantStation{std::string(resource.substr(prefix.size() + 1, end - prefix.size() - 1)),
                         std::move(identity.value())};
}

}  // namespace gateway::station
