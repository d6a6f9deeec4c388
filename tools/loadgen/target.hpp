#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "ocpp/result.hpp"
#include "ocpp/version.hpp"
#include "tools/loadgen/options.hpp"

namespace loadgen {

/// Where the stations connect: one per --url.
struct Target {
    asio::ip::tcp::endpoint endpoint;
    /// host:port as the URL's parsed form names it (the transport's key for `endpoint`).
    std::string authority;
    /// The --url without a trailing '/'; a station's URL is base_url + "/" + id.
    std::string base_url;
    /// wss://: the connections speak TLS and check the server certificate against `host`.
    bool tls = false;
    std::string host;
};

/// Why a target cannot be used: a bad option (exit 2) or an unreachable host (exit 1).
struct TargetError {
    bool bad_option = true;
    std::string message;
};

/// Parses and resolves every --url and checks them against --source-addresses. The stations
/// are split into consecutive blocks, one per URL in order.
ocpp::Result<std::vector<Target>, TargetError> resolve_targets(const Options& o);

/// The endpoints of `targets` keyed as the transport looks them up.
std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> transport_targets(
    const std::vector<Target>& targets);

/// The id of station `number` (1-based): prefix + at least 6 digits.
std::string station_id(const std::string& prefix, std::size_t number);

/// The version of the station with 0-based index `i`: the ocpp2.0.1 stations are spread
/// evenly over the ids.
ocpp::ProtocolVersion station_version(std::size_t i, double v201_share);

}  // namespace loadgen
