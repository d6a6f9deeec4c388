// gateway::station::parse_station_path on hostile WebSocket request targets, with the prefix "/ocpp".
//   accepted → 1..48 characters, no ':', a valid identity (ocpp::identity_error), and the
//              identity written back under the prefix parses to itself;
//   refused  → 404 "unknown_path" or 400 "bad_identity".
// The same input read as `/ocpp/{tenant}/{id}`: a tenant is one non-empty segment without '/'
// or '?', and the identity is what parse_station_path reads after it.
#include <string>

#include "fuzz_support.hpp"
#include "gateway/station/path.hpp"
#include "ocpp/identity.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::string_view kPrefix = "/ocpp";
    const std::string_view resource = fuzz::as_text(data, size);
    if (auto tenanted = gateway::station::parse_tenant_station_path(resource, kPrefix); tenanted.ok()) {
        const std::string& tenant = tenanted.value().tenant;
        fuzz::require(!tenant.empty() && tenant.find_first_of("/?") == std::string::npos,
                      "a tenant is one path segment");
        auto plain = gateway::station::parse_station_path(
            resource, std::string(kPrefix) + "/" + tenant);
        fuzz::require(plain.ok() && plain.value().get() == tenanted.value().station_id.get(),
                      "the identity after the tenant reads as a plain path's");
    } else {
        const auto& refusal = tenanted.error();
        fuzz::require((refusal.status == 404 && refusal.reason == "unknown_path") ||
                          (refusal.status == 400 && refusal.reason == "bad_identity"),
                      "a tenanted refusal is 404 unknown_path or 400 bad_identity");
    }
    auto result = gateway::station::parse_station_path(resource, kPrefix);
    if (!result.ok()) {
        const auto& refusal = result.error();
        fuzz::require((refusal.status == 404 && refusal.reason == "unknown_path") ||
                          (refusal.status == 400 && refusal.reason == "bad_identity"),
                      "a refusal is 404 unknown_path or 400 bad_identity");
        return 0;
    }
    const std::string& identity = result.value().get();
    fuzz::require(!identity.empty() && identity.size() <= 48, "an identity has 1..48 characters");
    fuzz::require(identity.find(':') == std::string::npos, "an identity has no ':'");
    fuzz::require(!ocpp::identity_error(identity).has_value(), "an identity is valid");
    // Every identifierString character is allowed unescaped in a path segment.
    auto again = gateway::station::parse_station_path(std::string(kPrefix) + "/" + identity, kPrefix);
    fuzz::require(again.ok() && again.value().get() == identity, "an identity round-trips as a path");
    return 0;
}
