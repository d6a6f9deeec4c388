#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ocpp/result.hpp"

namespace gateway::security {

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

}  // namespace gateway::security
