#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ocpp {

/// Appends `value` as compact JSON text, byte for byte what
/// `value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)` writes (keys in the
/// object's order, numbers as nlohmann formats them, text that is not UTF-8 with U+FFFD), but
/// into `out` directly: no serializer object and its output adapter per call, plain runs of
/// a string copied at once.
void append_json(std::string& out, const nlohmann::json& value);

/// `value` as compact JSON text (append_json into a new string).
std::string write_json(const nlohmann::json& value);

/// Appends `text` as a JSON string, as append_json writes a string value: '"', '\\' and
/// control characters escaped, everything else as is.
void append_json_string(std::string& out, std::string_view text);

/// `text` for a log line or an error message, whatever it holds: cut to at most `max` bytes of
/// whole characters (then followed by "…"), written as a JSON string (quoted, control
/// characters escaped, bytes that are not UTF-8 as U+FFFD).
std::string quote(std::string_view text, std::size_t max = 64);

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF).
bool valid_utf8(std::string_view text);

/// Characters (code points) of UTF-8 `text`, as JSON Schema's maxLength counts them: its
/// bytes that do not continue a character.
std::size_t utf8_characters(std::string_view text);

}  // namespace ocpp
