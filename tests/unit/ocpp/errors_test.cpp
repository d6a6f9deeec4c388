#include <catch2/catch.hpp>

#include "ocpp/errors.hpp"

using ocpp::CallErrorCode;
using ocpp::Errc;
using ocpp::ProtocolVersion;

TEST_CASE("each version spells its own CALLERROR codes", "[errors]") {
    using C = CallErrorCode;
    CHECK(ocpp::wire_name(C::FormatViolation, ProtocolVersion::v16) == "FormationViolation");
    CHECK(ocpp::wire_name(C::FormatViolation, ProtocolVersion::v201) == "FormatViolation");
    CHECK(ocpp::wire_name(C::OccurrenceConstraintViolation, ProtocolVersion::v16) ==
          "OccurenceConstraintViolation");
    CHECK(ocpp::wire_name(C::OccurrenceConstraintViolation, ProtocolVersion::v201) ==
          "OccurrenceConstraintViolation");
    CHECK(ocpp::wire_name(C::RpcFrameworkError, ProtocolVersion::v201) == "RpcFrameworkError");
    // 1.6 has no RpcFrameworkError / MessageTypeNotSupported: never spell them there.
    CHECK(ocpp::wire_name(C::RpcFrameworkError, ProtocolVersion::v16) == "FormationViolation");
    CHECK(ocpp::wire_name(C::MessageTypeNotSupported, ProtocolVersion::v16) == "ProtocolError");
}

TEST_CASE("code names parse back per version", "[errors]") {
    for (int i = 0; i <= static_cast<int>(CallErrorCode::MessageTypeNotSupported); ++i) {
        const auto code = static_cast<CallErrorCode>(i);
        const auto name = ocpp::wire_name(code, ProtocolVersion::v201);
        CAPTURE(name);
        CHECK(ocpp::parse_call_error_code(name, ProtocolVersion::v201) == code);
    }
    CHECK(ocpp::parse_call_error_code("FormationViolation", ProtocolVersion::v16) ==
          CallErrorCode::FormatViolation);
    CHECK_FALSE(ocpp::parse_call_error_code("FormationViolation", ProtocolVersion::v201));
    CHECK_FALSE(ocpp::parse_call_error_code("FormatViolation", ProtocolVersion::v16));
    CHECK_FALSE(ocpp::parse_call_error_code("RpcFrameworkError", ProtocolVersion::v16));
}

TEST_CASE("every internal error maps to a code that exists in each version", "[errors]") {
    for (int i = static_cast<int>(Errc::not_json); i <= static_cast<int>(Errc::internal_error);
         ++i) {
        const auto errc = static_cast<Errc>(i);
        CAPTURE(i);
        CHECK(ocpp::make_error_code(errc).message() != "unknown ocpp error");
        for (const auto v : ocpp::kAllVersions) {
            const auto name = ocpp::wire_name(ocpp::call_error_code(errc, v), v);
            CHECK(ocpp::parse_call_error_code(name, v).has_value());
        }
    }
    CHECK(ocpp::call_error_code(Errc::unknown_message_type, ProtocolVersion::v201) ==
          CallErrorCode::MessageTypeNotSupported);
    CHECK(ocpp::call_error_code(Errc::type_violation, ProtocolVersion::v16) ==
          CallErrorCode::TypeConstraintViolation);
    CHECK(ocpp::make_error_code(Errc::too_deep).category().name() == std::string("ocpp"));
}

TEST_CASE("descriptions are cut without splitting UTF-8", "[errors]") {
    CHECK(ocpp::truncate_utf8("short") == "short");
    const std::string euro = "\xE2\x82\xAC";  // 3 bytes
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text += euro;
    }
    const auto cut = ocpp::truncate_utf8(text);
    CHECK(cut.size() == 255);  // 85 whole characters
    const auto cut2 = ocpp::truncate_utf8("a" + text);
    CHECK(cut2.size() == 253);  // 'a' + 84 characters; the 85th would cross 255
}
