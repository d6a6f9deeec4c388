#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <string>

#include "ocpp/result.hpp"
#include "ocpp/version.hpp"
#include "tools/loadgen/options.hpp"

namespace loadgen {

/// Where the stations connect.
struct Target {
    asio::ip::tcp::endpoint endpoint;
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

/// Parses and resolves --url and checks it against --source-addresses.
ocpp::Result<Target, TargetError> resolve_target(const Options& o);

/// The id of station `number` (1-based): prefix + at least 6 digits.
std::string station_id(const std::string& prefix, std::size_t number);

/// The version of the station with 0-based index `i`: the ocpp2.0.1 stations are spread
/// evenly over the ids.
ocpp::ProtocolVersion station_version(std::size_t i, double v201_share);

}  // namespace loadgen
