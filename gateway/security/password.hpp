#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gateway::security {

/// Iterations of a new password hash: about 40 ms on one core of a 2-core cloud VM (2026);
/// verified once per connection and then cached (see StationRegistry::verify).
inline constexpr unsigned kDefaultPasswordIterations = 100000;

/// "pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>" for `password`, with a random
/// 16-byte salt and a 32-byte key.
std::string hash_password(std::string_view password, unsigned iterations = kDefaultPasswordIterations);

/// Whether `password` matches `encoded` (constant time in the key comparison). A malformed
/// `encoded` never matches.
bool password_matches(std::string_view encoded, std::string_view password);

/// Checks the form of an encoded hash; the problem in words, or nothing when well-formed.
std::optional<std::string> password_hash_error(std::string_view encoded);

/// `s` as upper-case hex text, and back (nothing unless it is an even number of hex digits).
std::string hex_encode(std::string_view s);
std::optional<std::string> hex_decode(std::string_view s);

}  // namespace gateway::security
