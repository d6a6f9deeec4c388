#include "ocpp/version.hpp"

#include <algorithm>

namespace ocpp {
namespace {

struct VersionNames {
    ProtocolVersion version;
    std::string_view subprotocol;
    std::string_view label;
};

constexpr std::array<VersionNames, 3> kNames = {{
    {ProtocolVersion::v16, "ocpp1.6", "1.6"},
    {ProtocolVersion::v201, "ocpp2.0.1", "2.0.1"},
    {ProtocolVersion::v21, "ocpp2.1", "2.1"},
}};

const VersionNames& names(ProtocolVersion v) {
    return kNames[static_cast<std::size_t>(v)];
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::string_view subprotocol(ProtocolVersion v) { return names(v).subprotocol; }

std::string_view version_label(ProtocolVersion v) { return names(v).label; }

std::optional<ProtocolVersion> from_subprotocol(std::string_view token) {
    for (const auto& n : kNames) {
        if (n.subprotocol == token) {
            return n.version;
        }
    }
    return std::nullopt;
}

std::optional<ProtocolVersion> parse_version(std::string_view text) {
    for (const auto& n : kNames) {
        if (n.subprotocol == text || n.label == text) {
            return n.version;
        }
    }
    return std::nullopt;
}

std::vector<std::string> parse_subprotocol_header(std::string_view header) {
    std::vector<std::string> tokens;
    std::size_t pos = 0;
    while (pos <= header.size()) {
        std::size_t comma = header.find(',', pos);
        if (comma == std::string_view::npos) {
            comma = header.size();
        }
        std::string_view token = header.substr(pos, comma - pos);
        while (!token.empty() && is_space(token.front())) {
            token.remove_prefix(1);
        }
        while (!token.empty() && is_space(token.back())) {
            token.remove_suffix(1);
        }
        if (!token.empty()) {
            tokens.emplace_back(token);
        }
        pos = comma + 1;
    }
    return tokens;
}

Negotiation negotiate(const std::vector<std::string>& offered,
                      const std::vector<ProtocolVersion>& supported,
                      std::optional<ProtocolVersion> default_when_missing) {
    using Outcome = Negotiation::Outcome;
    if (offered.empty()) {
        if (default_when_missing &&
            std::find(supported.begin(), supported.end(), *default_when_missing) !=
                supported.end()) {
            return {Outcome::defaulted, default_when_missing};
        }
        return {Outcome::missing_refused, std::nullopt};
    }
    for (const auto& token : offered) {
        const auto version = from_subprotocol(token);
        if (version &&
            std::find(supported.begin(), supported.end(), *version) != supported.end()) {
            return {Outcome::selected, version};
        }
    }
    return {Outcome::none_supported, std::nullopt};
}

}  // namespace ocpp
