#include "kafka_bridge/record_json.hpp"

#include <fmt/format.h>

#include "ocpp/json_reader.hpp"

namespace kafka_bridge {

ocpp::Result<nlohmann::json, std::string> read_record_json(std::string_view text, std::size_t max_depth) {
    auto read = ocpp::read_json(text, max_depth);
    if (read.ok()) {
        return std::move(read).value();
    }
    const ocpp::JsonError& e = read.error();
    switch (e.kind) {
        case ocpp::JsonError::Kind::too_deep:
            return fmt::format("nested deeper than {} levels", max_depth);
        case ocpp::JsonError::Kind::out_of_range:
            return fmt::format("a number out of range (at byte {})", e.offset);
        case ocpp::JsonError::Kind::syntax:
            break;
    }
    return fmt::format("not JSON (at byte {})", e.offset);
}

nlohmann::json parse_record_json(std::string_view text) {
    auto read = ocpp::read_json(text, kMaxRecordDepth);
    if (!read.ok()) {
        return nlohmann::json(nlohmann::json::value_t::discarded);
    }
    return std::move(read).value();
}

}  // namespace kafka_bridge
