// The generator's payloads written as text must be the bytes the trees serialize to, and valid.
#include <catch2/catch.hpp>

#include "ocpp/json_writer.hpp"
#include "ocpp/schema_registry.hpp"
#include "tools/loadgen/payloads.hpp"

namespace {

using ocpp::ProtocolVersion;

const ocpp::SchemaRegistry& registry() {
    static const ocpp::SchemaRegistry instance;
    return instance;
}

void require_valid(ProtocolVersion v, const std::string& action, const std::string& text) {
    const auto result = registry().validate(v, action, ocpp::SchemaKind::request, nlohmann::json::parse(text));
    INFO(action << ": " << text << " " << result.summary());
    REQUIRE(result.ok());
}

}  // namespace

TEST_CASE("meter values as text are the tree's bytes, over a charging session") {
    for (const auto v : {ProtocolVersion::v16, ProtocolVersion::v201}) {
        loadgen::Meter meter;
        loadgen::Xorshift rng(42);
        for (int i = 0; i < 200; ++i) {
            meter.advance(rng);
            const std::string at = loadgen::utc_timestamp(std::chrono::system_clock::time_point(
                std::chrono::milliseconds(1'764'000'000'000LL + i * 997)));
            std::string text;
            loadgen::append_meter_values(text, v, meter, at);
            REQUIRE(text == ocpp::write_json(loadgen::meter_values(v, meter, at)));
            if (i % 50 == 0) {
                require_valid(v, "MeterValues", text);
            }
        }
    }
}

TEST_CASE("status notifications and authorizations as text are the tree's bytes") {
    const std::string at = "2026-12-05T12:00:00.123Z";
    for (const auto v : {ProtocolVersion::v16, ProtocolVersion::v201}) {
        for (std::uint32_t step = 0; step < 8; ++step) {
            std::string text;
            loadgen::append_status_notification(text, v, step, at);
            REQUIRE(text == ocpp::write_json(loadgen::status_notification(v, step, at)));
            require_valid(v, "StatusNotification", text);
        }
        for (const std::size_t station : {std::size_t{0}, std::size_t{7}, std::size_t{123456789}}) {
            std::string text;
            loadgen::append_authorize(text, v, loadgen::token_for(station));
            REQUIRE(text == ocpp::write_json(loadgen::authorize(v, loadgen::token_for(station))));
            require_valid(v, "Authorize", text);
        }
        // A token that needs escaping is written as the tree writes it.
        std::string text;
        loadgen::append_authorize(text, v, "a\"b\\c");
        REQUIRE(text == ocpp::write_json(loadgen::authorize(v, "a\"b\\c")));
    }
}
