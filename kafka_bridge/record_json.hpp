#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ocpp/result.hpp"

namespace kafka_bridge {

/// The deepest nesting of arrays and objects accepted in JSON the gateway and its tools read
/// from Kafka records or from a body posted to the REST API. It lies above the deepest station
/// frame the gateway accepts (limits.max_json_depth, at most 1,000) with a record's envelope
/// around it, and far below what nlohmann::json's copy and serialization, which recurse once
/// per level, take on a thread's stack: Kafka's default 1 MB record holds 500,000 levels, and
/// copying that many crashes the process, again after every restart for a record on a topic.
inline constexpr std::size_t kMaxRecordDepth = 1024;

/// `text` (a UTF-8 byte order mark before it skipped) read as one JSON document, or why it is not one: "not JSON (at byte N)", "nested
/// deeper than 1024 levels", "a number out of range (at byte N)".
ocpp::Result<nlohmann::json, std::string> read_record_json(std::string_view text,
                                                            std::size_t max_depth = kMaxRecordDepth);

/// The same for callers that only tell JSON from not: a discarded value (is_discarded())
/// for text that is not JSON or nests deeper than kMaxRecordDepth, as
/// nlohmann::json::parse(text, nullptr, false) gives for the first.
nlohmann::json parse_record_json(std::string_view text);

}  // namespace kafka_bridge
