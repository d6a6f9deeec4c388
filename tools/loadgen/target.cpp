#include "tools/loadgen/target.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tools/loadgen/ws_client.hpp"

namespace loadgen {

namespace {

ocpp::Result<Target, TargetError> resolve_one(const Options& o, const std::string& url) {
    const auto bad = [](std::string message) { return TargetError{true, std::move(message)}; };
    const bool tls = url.rfind("wss://", 0) == 0;
    if (!tls && url.rfind("ws://", 0) != 0) {
        return bad(fmt::format("--url: expected ws://host:port/path or wss://host:port/path, "
                               "got '{}'",
                               url));
    }
    if (!tls && (!o.ca_file.empty() || !o.client_cert.empty() || o.tls_resume)) {
        return bad("--ca-file, --client-cert, --client-key and --tls-resume need a wss:// --url");
    }
    if (tls && o.ca_file.empty()) {
        return bad("wss:// needs --ca-file (the CA that signed the gateway's certificate)");
    }
    const websocketpp::uri uri(url);
    if (!uri.get_valid()) {
        return bad(fmt::format("--url: '{}' is not a valid URL", url));
    }
    if (uri.get_resource().find('?') != std::string::npos) {
        return bad("--url: a query string cannot be combined with the appended station id");
    }
    Target t;
    t.tls = tls;
    t.authority = uri.get_host() + ":" + uri.get_port_str();
    t.base_url = url;
    while (!t.base_url.empty() && t.base_url.back() == '/') {
        t.base_url.pop_back();
    }
    std::string host = uri.get_host();
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    t.host = host;
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    asio::error_code ec;
    const auto results = resolver.resolve(host, uri.get_port_str(), ec);
    if (ec || results.empty()) {
        return TargetError{false, fmt::format("cannot resolve {}: {}", host,
                                              ec ? ec.message() : std::string("no address"))};
    }
    const bool want_v4 = o.source_addresses.empty() || o.source_addresses.front().is_v4();
    bool found = false;
    for (const auto& r : results) {
        if (r.endpoint().address().is_v4() == want_v4) {
            t.endpoint = r.endpoint();
            found = true;
            break;
        }
    }
    if (!found) {
        if (!o.source_addresses.empty()) {
            return bad(fmt::format("--source-addresses are IPv{} but {} has no such address",
                                   want_v4 ? 4 : 6, host));
        }
        t.endpoint = results.begin()->endpoint();
    }
    if (!o.source_addresses.empty() && !is_loopback(t.endpoint.address())) {
        return bad(fmt::format("--source-addresses needs a loopback --url (got {})",
                               t.endpoint.address().to_string()));
    }
    return t;
}

}  // namespace

ocpp::Result<std::vector<Target>, TargetError> resolve_targets(const Options& o) {
    std::vector<Target> out;
    for (const auto& url : o.urls) {
        auto t = resolve_one(o, url);
        if (!t) {
            return std::move(t).error();
        }
        if (!out.empty() && t->tls != out.front().tls) {
            return TargetError{true, "--url: ws:// and wss:// cannot be mixed in one run"};
        }
        for (const auto& seen : out) {
            if (seen.authority == t->authority) {
                return TargetError{true, fmt::format("--url: {} is named twice", t->authority)};
            }
        }
        out.push_back(std::move(t).value());
    }
    return out;
}

std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> transport_targets(
    const std::vector<Target>& targets) {
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> out;
    for (const auto& t : targets) {
        out.emplace_back(t.authority, t.endpoint);
    }
    return out;
}

std::string station_id(const std::string& prefix, std::size_t number) {
    return fmt::format("{}{:06}", prefix, number);
}

ocpp::ProtocolVersion station_version(std::size_t i, double v201_share) {
    const auto before = std::floor(static_cast<double>(i) * v201_share);
    const auto after = std::floor(static_cast<double>(i + 1) * v201_share);
    return after > before ? ocpp::ProtocolVersion::v201 : ocpp::ProtocolVersion::v16;
}

}  // namespace loadgen
