#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/config.hpp"

namespace gateway::config {

/// One setting and every place it may be given. The YAML reader, the environment and flag
/// parsers and --help are generated from this table (options()), so a setting is spelled
/// once; bounds and their reasons live with the setting.
struct Option {
    enum class Shape : std::uint8_t {
        scalar,        ///< one value
        list,          ///< YAML list; a repeatable flag adds one item
        map,           ///< YAML mapping; a repeatable flag gives KEY=VALUE
        certificates,  ///< YAML list of {cert, key}; flags --tls-cert / --tls-key
        profiles,      ///< YAML list of tolerance profiles {name, match, allow, assume_offset}
    };
    std::string path;        ///< YAML path ("limits.max_connections"); empty: flag only
    std::string_view env;    ///< OCPP_GATEWAY_* variable; empty: none
    std::string_view flag;   ///< command-line flag ("--listen"); empty: none
    std::string_view value;  ///< the value's shape in --help ("HOST:PORT")
    std::string_view help;   ///< one line for --help
    Shape shape = Shape::scalar;
    /// Reads one value (a list item; "KEY=VALUE" for a map) into the config. Throws
    /// std::runtime_error naming `where` (the key, variable or flag) and the problem.
    std::function<void(Config&, const std::string& value, const std::string& where)> set;
    /// The default as --help shows it; null: none shown.
    std::function<std::string(const Config&)> show;
    /// Lists only: empties the setting before a YAML list replaces it.
    std::function<void(Config&)> clear;
};

/// Every setting, in --help order.
const std::vector<Option>& options();

/// Applies the OCPP_GATEWAY_* variables of `env` (other names are not looked at). Returns what
/// to warn of: each OCPP_GATEWAY_* variable that names no setting, with the nearest that does.
std::vector<std::string> apply_environment(Config& c, const std::map<std::string, std::string>& env);

/// The Kafka settings of `c` (kafka_properties.cpp): settle_kafka_properties for the gateway's
/// and each tenant's own cluster, the frame limit against the producer's message.max.bytes,
/// and what librdkafka would refuse. Throws std::runtime_error naming the setting.
void check_kafka(Config& c);

/// Reads an integer in [min, max]; throws std::runtime_error naming `what`.
long long parse_integer(const std::string& text, const std::string& what, long long min,
                        long long max);

}  // namespace gateway::config
