#include "gateway/config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <stdexcept>

// Who may reach the listeners: networks, loopback, the admin listener's rules and the
// exposures a configuration has to acknowledge (README "Security").
namespace gateway::config {

bool Network::contains(const asio::ip::address& a) const {
    asio::ip::address candidate = a;
    if (candidate.is_v6() && candidate.to_v6().is_v4_mapped() && address.is_v4()) {
        candidate = asio::ip::make_address_v4(asio::ip::v4_mapped, candidate.to_v6());
    }
    if (candidate.is_v4() != address.is_v4()) {
        return false;
    }
    const auto bytes_of = [](const asio::ip::address& x) {
        std::array<unsigned char, 16> out{};
        if (x.is_v4()) {
            const auto b = x.to_v4().to_bytes();
            std::memcpy(out.data(), b.data(), b.size());
        } else {
            const auto b = x.to_v6().to_bytes();
            std::memcpy(out.data(), b.data(), b.size());
        }
        return out;
    };
    const auto want = bytes_of(address);
    const auto have = bytes_of(candidate);
    unsigned bits = prefix;
    for (std::size_t i = 0; bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
        const unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
        if ((want[i] & mask) != (have[i] & mask)) {
            return false;
        }
    }
    return true;
}

std::string Network::to_string() const {
    return address.to_string() + "/" + std::to_string(prefix);
}

std::optional<Network> parse_network(std::string_view text) {
    const auto slash = text.find('/');
    std::error_code ec;
    const auto address = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
    if (ec) {
        return std::nullopt;
    }
    const unsigned max = address.is_v4() ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto [end, pec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || pec != std::errc() || end != digits.data() + digits.size() || prefix > max) {
            return std::nullopt;
        }
    }
    return Network{address, prefix};
}

bool is_loopback(std::string_view host) {
    const std::string text(host);
    unsigned char v4[4] = {};
    if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
        return v4[0] == 127;
    }
    unsigned char v6[16] = {};
    if (inet_pton(AF_INET6, text.c_str(), v6) != 1) {
        return false;
    }
    const bool ten_zeros = std::all_of(v6, v6 + 10, [](unsigned char b) { return b == 0; });
    if (ten_zeros && v6[10] == 0xff && v6[11] == 0xff) {
        return v6[12] == 127;  // IPv4-mapped
    }
    return ten_zeros && std::all_of(v6 + 10, v6 + 15, [](unsigned char b) { return b == 0; }) &&
           v6[15] == 1;
}

AdminPolicy admin_policy(const Config& c) {
    AdminPolicy policy;
    if (!c.admin_token.empty()) {
        policy.commands = AdminAccess::token;
        policy.metrics = c.admin_metrics_without_token ? AdminAccess::open : AdminAccess::token;
    } else if (!is_loopback(c.admin_listen.host)) {
        policy.commands = AdminAccess::refused;
    }
    return policy;
}

std::vector<std::string> unauthenticated_exposures(const Config& c) {
    std::vector<std::string> exposed;
    if (c.security.profile == 0 && !is_loopback(c.listen.host)) {
        exposed.emplace_back("stations");
    }
    if (c.admin_token.empty() && !is_loopback(c.admin_listen.host)) {
        exposed.emplace_back("admin");
    }
    return exposed;
}

void refuse_unacknowledged_exposure(const Config& c) {
    if (c.security.profile == 0 && !is_loopback(c.listen.host) && !c.security.profile0_exposed) {
        throw std::runtime_error("listen " + c.listen.to_string() + " is not a loopback address and security "
                                 "profile 0 authenticates nobody: anyone who reaches the port could connect as any "
                                 "station and write billing events. Choose security.profile 1, 2 or 3 "
                                 "(--security-profile), listen on 127.0.0.1, or acknowledge it with "
                                 "security.profile0_exposed: true");
    }
    if (c.admin_token.empty() && !is_loopback(c.admin_listen.host) && !c.admin_exposed_without_token) {
        throw std::runtime_error("admin_listen " + c.admin_listen.to_string() + " is not a loopback address and "
                                 "admin.token is not set: anyone who reaches the port could send commands to "
                                 "stations. Set admin.token (or OCPP_GATEWAY_ADMIN_TOKEN), listen on 127.0.0.1, or, "
                                 "where the network protects the port, set admin.exposed_without_token: true "
                                 "(health and /metrics only; /v1 then answers 403)");
    }
}

}  // namespace gateway::config
