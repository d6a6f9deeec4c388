#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocpp {

enum class ProtocolVersion : std::uint8_t { v16, v201, v21 };

inline constexpr std::array<ProtocolVersion, 3> kAllVersions = {
    ProtocolVersion::v16, ProtocolVersion::v201, ProtocolVersion::v21};

/// WebSocket subprotocol token: "ocpp1.6", "ocpp2.0.1" or "ocpp2.1".
std::string_view subprotocol(ProtocolVersion v);
/// Version label used in records and logs: "1.6", "2.0.1" or "2.1".
std::string_view version_label(ProtocolVersion v);
/// The version for a subprotocol token (exact, case-sensitive per RFC 6455), if supported.
std::optional<ProtocolVersion> from_subprotocol(std::string_view token);
/// The version for a label ("1.6", "2.0.1", "2.1") or a subprotocol token.
std::optional<ProtocolVersion> parse_version(std::string_view text);

/// Splits a Sec-WebSocket-Protocol header value into its tokens, in the station's order.
std::vector<std::string> parse_subprotocol_header(std::string_view header);

/// What the handshake should do about the subprotocol.
struct Negotiation {
    enum class Outcome : std::uint8_t {
        selected,          ///< `version` is the first offered token the gateway supports
        defaulted,         ///< no header; `version` is the configured default
        missing_refused,   ///< no header and no default configured: refuse the upgrade
        none_supported,    ///< header present but no offered token is supported: refuse
    };
    Outcome outcome;
    std::optional<ProtocolVersion> version;
};

/// Picks the version for a connection. The station's order of preference wins among the
/// `supported` versions. `offered` empty means the header was absent.
Negotiation negotiate(const std::vector<std::string>& offered,
                      const std::vector<ProtocolVersion>& supported,
                      std::optional<ProtocolVersion> default_when_missing);

}  // namespace ocpp
