#include "gateway/station/proxy_protocol.hpp"

#include <charconv>
#include <cstring>

#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>

namespace gateway::station::proxy {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const auto end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) {
            return parts;
        }
        start = end + 1;
    }
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    // Decimal without sign or leading zeros, as the specification writes ports.
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

}  // namespace

std::variant<Source, Error> parse_v1(std::string_view line) {
    if (line.size() > kV1MaxLine || line.size() < 2 || line.substr(line.size() - 2) != "\r\n") {
        return Error{"a PROXY v1 line ends with CRLF within 107 bytes"};
    }
    const auto fields = split(line.substr(0, line.size() - 2), ' ');
    if (fields.size() < 2 || fields[0] != "PROXY") {
        return Error{"not a PROXY v1 line"};
    }
    if (fields[1] == "UNKNOWN") {
        return Source{true, {}, 0};
    }
    if ((fields[1] != "TCP4" && fields[1] != "TCP6") || fields.size() != 6) {
        return Error{"PROXY v1: expected TCP4, TCP6 or UNKNOWN with two addresses and two ports"};
    }
    std::error_code ec;
    const auto source = asio::ip::make_address(std::string(fields[2]), ec);
    std::error_code dec;
    const auto destination = asio::ip::make_address(std::string(fields[3]), dec);
    const bool v4 = fields[1] == "TCP4";
    if (ec || dec || source.is_v4() != v4 || destination.is_v4() != v4) {
        return Error{"PROXY v1: addresses do not match " + std::string(fields[1])};
    }
    const auto port = parse_port(fields[4]);
    if (!port || !parse_port(fields[5])) {
        return Error{"PROXY v1: a port is not a number from 0 to 65535"};
    }
    return Source{false, source, *port};
}

std::size_t v2_length(std::string_view first16) {
    if (first16.size() < 16 || first16.substr(0, 12) != kV2Signature) {
        return 0;
    }
    const std::size_t body = (static_cast<unsigned char>(first16[14]) << 8) | static_cast<unsigned char>(first16[15]);
    return 16 + body > kV2MaxLength ? 0 : 16 + body;
}

std::variant<Source, Error> parse_v2(std::string_view header) {
    const std::size_t length = v2_length(header);
    if (length == 0 || header.size() != length) {
        return Error{"not a whole PROXY v2 header"};
    }
    const auto version_command = static_cast<unsigned char>(header[12]);
    if ((version_command >> 4) != 2) {
        return Error{"PROXY v2: version is not 2"};
    }
    const unsigned command = version_command & 0x0F;
    if (command == 0) {
        return Source{true, {}, 0};  // LOCAL: the proxy's own connection (a health check)
    }
    if (command != 1) {
        return Error{"PROXY v2: command is neither LOCAL nor PROXY"};
    }
    const auto family = static_cast<unsigned char>(header[13]);
    const auto* body = reinterpret_cast<const unsigned char*>(header.data()) + 16;
    const std::size_t body_length = length - 16;
    if (family == 0x11) {  // TCP over IPv4: source, destination, source port, destination port
        if (body_length < 12) {
            return Error{"PROXY v2: IPv4 addresses cut short"};
        }
        asio::ip::address_v4::bytes_type a{};
        std::memcpy(a.data(), body, 4);
        return Source{false, asio::ip::address_v4(a), static_cast<std::uint16_t>((body[8] << 8) | body[9])};
    }
    if (family == 0x21) {  // TCP over IPv6
        if (body_length < 36) {
            return Error{"PROXY v2: IPv6 addresses cut short"};
        }
        asio::ip::address_v6::bytes_type a{};
        std::memcpy(a.data(), body, 16);
        return Source{false, asio::ip::address_v6(a), static_cast<std::uint16_t>((body[32] << 8) | body[33])};
    }
    // UDP, unix sockets, unspecified: not a station's TCP address; the proxy's stands.
    return Source{true, {}, 0};
}

}  // namespace gateway::station::proxy
