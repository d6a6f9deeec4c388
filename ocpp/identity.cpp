#include "ocpp/identity.hpp"

#include <cctype>

namespace ocpp {

std::optional<std::string> identity_error(std::string_view id) {
    if (id.empty()) {
        return "station identity is empty";
    }
    if (id.size() > kMaxStationIdLength) {
        return "station identity is longer than 48 characters";
    }
    if (id == "." || id == "..") {
        return "station identity . or .. looks like a path step";  // logs, file-based tools
    }
    for (const char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        const bool ok = std::isalnum(c) != 0 || std::string_view("*-_=+|@.").find(ch) !=
                                                     std::string_view::npos;
        if (!ok) {
            return ch == ':' ? "station identity contains ':'"
                             : "station identity contains a character outside the OCPP "
                               "identifierString set";
        }
    }
    return std::nullopt;
}

Result<StationId, std::string> parse_station_id(std::string_view identity) {
    if (auto error = identity_error(identity)) {
        return std::move(*error);
    }
    return StationId(std::string(identity));
}

}  // namespace ocpp
