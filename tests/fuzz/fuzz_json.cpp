// ocpp::read_json against nlohmann::json::parse, whose results it promises to reproduce
// (ocpp/json_reader.hpp): same verdict and the same value, except that read_json refuses
// nesting deeper than its limit, nlohmann skips a leading UTF-8 byte order mark and stops
// reading at a NUL byte. And ocpp::write_json against nlohmann's dump() on what was read: the
// same bytes (ocpp/json_writer.hpp).
#include <string>

#include "fuzz_support.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/json_reader.hpp"
#include "ocpp/json_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);
    const std::size_t max_depth = ocpp::FrameLimits{}.max_depth;
    auto ours = ocpp::read_json(text, max_depth);
    if (!ours.ok()) {
        fuzz::require(ours.error().offset <= text.size(), "error offset within the text");
        if (ours.error().kind == ocpp::JsonError::Kind::too_deep) {
            return 0;
        }
    }
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
        return 0;
    }
    // nlohmann takes a NUL byte for the end of the input; a raw NUL is never JSON.
    if (text.find('\0') != std::string_view::npos) {
        fuzz::require(!ours.ok(), "read_json refuses a raw NUL byte");
        return 0;
    }
    const nlohmann::json reference =
        nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    const bool reference_ok = !reference.is_discarded();
    fuzz::require(ours.ok() == reference_ok, "read_json and nlohmann agree on the verdict");
    if (!ours.ok()) {
        return 0;
    }
    const nlohmann::json& value = ours.value();
    fuzz::require(value == reference, "read_json and nlohmann read equal values");
    fuzz::require(value.dump() == reference.dump(), "read_json and nlohmann read the same text");
    fuzz::require(ocpp::write_json(value) == value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "write_json writes what nlohmann's dump writes");
    return 0;
}
