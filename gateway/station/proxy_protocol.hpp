#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gateway::station {

/// The PROXY protocol (HAProxy's, versions 1 and 2) a load balancer puts before a station's
/// bytes to say who the station is: the gateway reads it from trusted proxies only, so the
/// station's own address is what per-address limits, security events and connection records
/// see. Pure parsing; the socket side is in station_socket.hpp, the trusted networks are
/// config::Network.
namespace proxy {

/// Where a proxied connection comes from. `local`: the proxy's own connection (a v2 LOCAL
/// command, v1 UNKNOWN, or an address family other than TCP over IPv4/IPv6): its own
/// address stands.
struct Source {
    bool local = false;
    asio::ip::address address;
    std::uint16_t port = 0;
};

/// The 12 bytes that open a version 2 header.
inline constexpr std::string_view kV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};
/// The longest version 1 line, CRLF included.
inline constexpr std::size_t kV1MaxLine = 107;
/// The longest version 2 header the gateway takes (16 bytes + the addresses and TLVs).
inline constexpr std::size_t kV2MaxLength = 16 + 536;

/// A header's problem, in words for logs.
struct Error {
    std::string reason;
};

/// Parses a version 1 line ("PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n", CRLF included).
std::variant<Source, Error> parse_v1(std::string_view line);
/// The length of the version 2 header that begins with these 16 bytes (0 when they are not
/// the start of one, or it is longer than kV2MaxLength).
std::size_t v2_length(std::string_view first16);
/// Parses a whole version 2 header (kV2Signature, version/command, family, length, body).
std::variant<Source, Error> parse_v2(std::string_view header);

}  // namespace proxy
}  // namespace gateway::station
