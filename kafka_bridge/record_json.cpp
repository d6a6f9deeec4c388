#include "kafka_bridge/record_json.hpp"

#include <fmt/format.h>

#include "ocpp/json_reader.hpp"

namespace kafka_bridge {
namespace {

/// `text` without a UTF-8 byte order mark before it (a tool may write one; nlohmann's parser
/// skips it too).
std::string_view without_bom(std::string_view text) {
    constexpr std::string_view kBom = "\xEF\xBB\xBF";
    return text.substr(0, kBom.size()) == kBom ? text.substr(kBom.size()) : text;
}

}  // namespace

ocpp::Result<nlohmann::json, std::string> read_record_json(std::string_view text, std::size_t max_depth) {
    const std::string_view body = without_bom(text);
    auto read = ocpp::read_json(body, max_depth);
    if (read.ok()) {
        return std::move(read).value();
    }
    const ocpp::JsonError& e = read.error();
    switch (e.kind) {
        case ocpp::JsonError::Kind::too_deep:
            return fmt::format("nested deeper than {} levels", max_depth);
        case ocpp::JsonError::Kind::out_of_range:
            return fmt::format("a number out of range (at byte {})", e.offset + (text.size() - body.size()));
        case ocpp::JsonError::Kind::syntax:
            break;
    }
    return fmt::format("not JSON (at byte {})", e.offset + (text.size() - body.size()));
}

nlohmann::json parse_record_json(std::string_view text) {
    auto read = ocpp::read_json(without_bom(text), kMaxRecordDepth);
    if (!read.ok()) {
        return nlohmann::json(nlohmann::json::value_t::discarded);
    }
    return std::move(read).value();
}

}  // namespace kafka_bridge
