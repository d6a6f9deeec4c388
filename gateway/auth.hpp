#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ocpp/result.hpp"

namespace gateway {

/// Why a request target names no station: HTTP status and a short reason (for logs/metrics).
struct PathRefusal {
    int status;          ///< 404 (not a station endpoint) or 400 (malformed identity)
    std::string reason;  ///< "unknown_path" or "bad_identity"
};

/// The station identity in a WebSocket request target, per the contract: `prefix/{id}`, one
/// path segment, percent-decoded, 1–48 characters of the identifierString set, no ':'. A
/// query string is ignored. Pure and allocation-bounded (fuzzed).
ocpp::Result<std::string, PathRefusal> parse_station_path(std::string_view resource,
                                                          std::string_view prefix);

/// User and password of an HTTP Basic Authorization header.
struct BasicCredentials {
    std::string user;
    std::string password;  ///< raw bytes after the first ':'
};

/// Parses an `Authorization` header value: scheme "Basic" (any case), one space, standard
/// base64 with padding of `user:password`. Errors in words (fuzzed).
ocpp::Result<BasicCredentials, std::string> parse_basic_authorization(std::string_view header);

/// Standard base64 decoding with padding; nothing on any invalid character or length.
std::optional<std::string> base64_decode(std::string_view text);

/// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);

/// Equal strings, in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace gateway
