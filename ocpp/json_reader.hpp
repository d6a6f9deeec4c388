#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ocpp/result.hpp"

namespace ocpp {

/// Why a text is not acceptable JSON.
struct JsonError {
    enum class Kind : std::uint8_t {
        syntax,        ///< not RFC 8259 JSON (including invalid UTF-8 and lone surrogates)
        too_deep,      ///< arrays/objects nested deeper than allowed
        out_of_range,  ///< a number that does not fit a double (1e400)
    };
    Kind kind;
    std::size_t offset;  ///< byte offset where the problem was found
};

/// Parses one JSON text (RFC 8259, UTF-8) into an nlohmann::json, with the same results as
/// nlohmann::json::parse — duplicate keys keep the last value, integers become int64 or
/// uint64 when they fit and double otherwise — but several times faster on OCPP frames: it
/// copies runs of plain characters at once and never builds a token string for numbers.
/// Nesting deeper than `max_depth` containers is refused before it is built. Never throws
/// except std::bad_alloc.
Result<nlohmann::json, JsonError> read_json(std::string_view text, std::size_t max_depth);

/// The value of a hexadecimal digit (either case), or -1.
int hex_digit_value(char c);

}  // namespace ocpp
