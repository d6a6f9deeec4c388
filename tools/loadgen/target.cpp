#include "tools/loadgen/target.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tools/loadgen/ws_client.hpp"

namespace loadgen {

ocpp::Result<Target, TargetError> resolve_target(const Options& o) {
    const auto bad = [](std::string message) { return TargetError{true, std::move(message)}; };
    const bool tls = o.url.rfind("wss://", 0) == 0;
    if (!tls && o.url.rfind("ws://", 0) != 0) {
        return bad(fmt::format("--url: expected ws://host:port/path or wss://host:port/path, "
                               "got '{}'",
                               o.url));
    }
    if (!tls && (!o.ca_file.empty() || !o.client_cert.empty() || o.tls_resume)) {
        return bad("--ca-file, --client-cert, --client-key and --tls-resume need a wss:// --url");
    }
    if (tls && o.ca_file.empty()) {
        return bad("wss:// needs --ca-file (the CA that signed the gateway's certificate)");
    }
    const websocketpp::uri uri(o.url);
    if (!uri.get_valid()) {
        return bad(fmt::format("--url: '{}' is not a valid URL", o.url));
    }
    if (uri.get_resource().find('?') != std::string::npos) {
        return bad("--url: a query string cannot be combined with the appended station id");
    }
    Target t;
    t.tls = tls;
    t.base_url = o.url;
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

std::string station_id(const std::string& prefix, std::size_t number) {
    return fmt::format("{}{:06}", prefix, number);
}

ocpp::ProtocolVersion station_version(std::size_t i, double v201_share) {
    const auto before = std::floor(static_cast<double>(i) * v201_share);
    const auto after = std::floor(static_cast<double>(i + 1) * v201_share);
    return after > before ? ocpp::ProtocolVersion::v201 : ocpp::ProtocolVersion::v16;
}

}  // namespace loadgen
