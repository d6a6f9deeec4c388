#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gateway::http {

/// Percent-decodes a URL path segment or query component; nothing for a malformed escape.
/// `plus_is_space` for query strings (application/x-www-form-urlencoded).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

/// The parameters of a query string ("a=1&b=x%20y"); a malformed escape makes the whole
/// query invalid (nothing). A repeated name keeps its last value.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

}  // namespace gateway::http
