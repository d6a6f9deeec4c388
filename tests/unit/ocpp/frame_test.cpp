#include <catch2/catch.hpp>

#include <string>

#include "ocpp/frame.hpp"
#include "ocpp/inbound.hpp"
#include "support.hpp"

using ocpp::Errc;
using ocpp::parse_frame;

namespace {

ocpp::FrameError expect_error(std::string_view text, const ocpp::FrameLimits& limits = {}) {
    auto result = parse_frame(text, limits);
    REQUIRE_FALSE(result.ok());
    return result.error();
}

}  // namespace

TEST_CASE("a CALL is parsed into its parts", "[frame]") {
    auto result = parse_frame(R"([2, "19223201", "BootNotification", {"chargePointVendor": "V"}])");
    REQUIRE(result.ok());
    const auto& call = std::get<ocpp::Call>(result.value());
    CHECK(call.id.get() == "19223201");
    CHECK(call.action == "BootNotification");
    CHECK(call.payload == nlohmann::json{{"chargePointVendor", "V"}});
}

TEST_CASE("CALLRESULT and CALLERROR are parsed", "[frame]") {
    auto result = parse_frame(R"([3,"a1",{"status":"Accepted"}])");
    REQUIRE(result.ok());
    const auto& cr = std::get<ocpp::CallResult>(result.value());
    CHECK(cr.id.get() == "a1");
    CHECK(cr.payload["status"] == "Accepted");

    auto error = parse_frame(R"([4,"a2","NotSupported","no",{"k":1}])");
    REQUIRE(error.ok());
    const auto& ce = std::get<ocpp::CallError>(error.value());
    CHECK(ce.code == "NotSupported");
    CHECK(ce.description == "no");
    CHECK(ce.details == nlohmann::json{{"k", 1}});

    SECTION("a CALLERROR without details, as some firmware sends, is accepted") {
        auto short_error = parse_frame(R"([4,"a3","GenericError",""])");
        REQUIRE(short_error.ok());
        CHECK(std::get<ocpp::CallError>(short_error.value()).details.is_object());
    }
}

TEST_CASE("frame errors carry the id when it can be read", "[frame]") {
    struct Case {
        std::string text;
        Errc errc;
        std::string id;
    };
    const std::vector<Case> cases = {
        {"", Errc::not_json, "-1"},
        {"hello", Errc::not_json, "-1"},
        {R"([2,"abc","Heartbeat",{])", Errc::not_json, "abc"},
        {R"({"a":1})", Errc::not_array, "-1"},
        {"[]", Errc::not_array, "-1"},
        {"42", Errc::not_array, "-1"},
        {R"(["2","x","Heartbeat",{}])", Errc::bad_message_type, "x"},
        {R"([2.5,"x","Heartbeat",{}])", Errc::bad_message_type, "x"},
        {R"([9,"x","Heartbeat",{}])", Errc::unknown_message_type, "x"},
        {R"([2,"x","Heartbeat"])", Errc::wrong_arity, "x"},
        {R"([2,"x","Heartbeat",{},{}])", Errc::wrong_arity, "x"},
        {R"([2,"","Heartbeat",{}])", Errc::bad_message_id, "-1"},
        {R"([2,17,"Heartbeat",{}])", Errc::bad_message_id, "-1"},
        {R"([2,"1234567890123456789012345678901234567","Heartbeat",{}])", Errc::bad_message_id,
         "-1"},
        {R"([2,"x",7,{}])", Errc::bad_action, "x"},
        {R"([2,"x","",{}])", Errc::bad_action, "x"},
        {R"([2,"x","Heartbeat",[]])", Errc::payload_not_object, "x"},
        {R"([2,"x","Heartbeat",null])", Errc::payload_not_object, "x"},
        {R"([3,"x",[]])", Errc::payload_not_object, "x"},
        {R"([4,"x",1,"d",{}])", Errc::bad_error_fields, "x"},
        {R"([2,"x","Heartbeat",{"v":1e400}])", Errc::number_out_of_range, "x"},
        {"[2,\"x\",\"Heartbeat\",{\"v\":\"\xff\"}]", Errc::not_json, "x"},
        {R"([2,"x","Heartbeat",{"v":"\ud800"}])", Errc::not_json, "x"},
        {R"([2,"x","Heartbeat",{}] trailing)", Errc::not_json, "x"},
        {std::string("[2,\"x\",\"Heartbeat\",{}]\0[]", 25), Errc::not_json, "x"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto error = expect_error(c.text);
        CHECK(error.errc == c.errc);
        CHECK(error.message_id == c.id);
        CHECK_FALSE(error.detail.empty());
    }
}

TEST_CASE("an id of exactly 36 characters is accepted", "[frame]") {
    const std::string id(36, 'z');
    auto result = parse_frame(R"([2,")" + id + R"(","Heartbeat",{}])");
    REQUIRE(result.ok());
    CHECK(std::get<ocpp::Call>(result.value()).id.get() == id);
}

TEST_CASE("nesting beyond the limit is refused without recursion", "[frame]") {
    std::string deep = R"([2,"deep","DataTransfer",{"data":)";
    deep += std::string(100000, '[');
    deep += std::string(100000, ']');
    deep += "}]";
    ocpp::FrameLimits limits;
    limits.max_frame_bytes = 1 << 20;
    const auto error = expect_error(deep, limits);
    CHECK(error.errc == Errc::too_deep);
    CHECK(error.message_id == "deep");

    SECTION("nesting at the limit is accepted") {
        // Frame array (1) + payload object (2) + 30 nested arrays = depth 32.
        std::string ok = R"([2,"d","DataTransfer",{"data":)" + std::string(30, '[') +
                         std::string(30, ']') + "}]";
        CHECK(parse_frame(ok).ok());
        std::string over = R"([2,"d","DataTransfer",{"data":)" + std::string(31, '[') +
                           std::string(31, ']') + "}]";
        CHECK(expect_error(over).errc == Errc::too_deep);
    }
}

TEST_CASE("frames over the size limit are refused before parsing", "[frame]") {
    ocpp::FrameLimits limits;
    limits.max_frame_bytes = 64;
    const std::string text = R"([2,"big","DataTransfer",{"vendorId":")" + std::string(100, 'a') +
                             R"("}])";
    const auto error = expect_error(text, limits);
    CHECK(error.errc == Errc::too_large);
    CHECK(error.message_id == "big");
}

TEST_CASE("only CALLs and unreadable frames are answerable", "[frame]") {
    CHECK(expect_error("nope").answerable());
    CHECK(expect_error(R"([2,"x","A",1])").answerable());
    CHECK(expect_error(R"([7,"x"])").answerable());
    CHECK_FALSE(expect_error(R"([3,"x",1])").answerable());
    CHECK_FALSE(expect_error(R"([4,"x",1,2,3])").answerable());
    CHECK_FALSE(expect_error(R"([3,"x",{)").answerable());
}

TEST_CASE("serialization produces OCPP-J frames that parse back", "[frame]") {
    ocpp::Call call{ocpp::MessageId("m-1"), "Heartbeat", nlohmann::json::object()};
    CHECK(ocpp::serialize(call) == R"([2,"m-1","Heartbeat",{}])");

    ocpp::CallResult result{ocpp::MessageId("m-1"), {{"currentTime", "2026-01-01T00:00:00Z"}}};
    CHECK(ocpp::serialize(result) == R"([3,"m-1",{"currentTime":"2026-01-01T00:00:00Z"}])");

    SECTION("CALLERROR uses the version's spelling and cuts the description to 255 bytes") {
        const std::string long_text(1000, 'x');
        auto v16 = ocpp::make_call_error("m-2", ocpp::CallErrorCode::FormatViolation,
                                         ocpp::ProtocolVersion::v16, long_text);
        CHECK(v16.code == "FormationViolation");
        CHECK(v16.description.size() == 255);
        auto v201 = ocpp::make_call_error("m-2", ocpp::CallErrorCode::OccurrenceConstraintViolation,
                                          ocpp::ProtocolVersion::v201, "d");
        CHECK(ocpp::serialize(v201) == R"([4,"m-2","OccurrenceConstraintViolation","d",{}])");
        auto parsed = parse_frame(ocpp::serialize(v16));
        REQUIRE(parsed.ok());
        CHECK(std::get<ocpp::CallError>(parsed.value()).description == v16.description);
    }
}

TEST_CASE("a CALLRESULT from payload text is the frame serialize() writes", "[frame]") {
    const nlohmann::json payloads[] = {nlohmann::json::object(),
                                       {{"currentTime", "2026-01-01T00:00:00Z"}},
                                       {{"idTagInfo", {{"status", "Accepted"}}}, {"transactionId", 7}}};
    for (const char* id : {"1", "q\"uote\\", "tab\tid", "\xc3\xa9", "bad\xff"}) {
        for (const auto& payload : payloads) {
            INFO(id << " " << payload.dump());
            const ocpp::MessageId message_id(id);
            CHECK(ocpp::serialize_call_result(message_id, payload.dump()) ==
                  ocpp::serialize(ocpp::CallResult{message_id, payload}));
        }
    }
}

TEST_CASE("SEND and CALLRESULTERROR exist only in OCPP 2.1", "[frame]") {
    using ocpp::ProtocolVersion;
    const std::string send = R"([6,"s1","NotifyPeriodicEventStream",{"id":1,"pending":0,"basetime":"2026-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]}])";
    const std::string result_error = R"([5,"r1","FormatViolation","bad answer",{}])";
    for (const auto v : {ProtocolVersion::v16, ProtocolVersion::v201}) {
        CAPTURE(ocpp::subprotocol(v));
        for (const auto& text : {send, result_error}) {
            auto parsed = parse_frame(text, {}, v);
            REQUIRE_FALSE(parsed.ok());
            CHECK(parsed.error().errc == ocpp::Errc::unknown_message_type);
            const auto rejection = ocpp::reject_frame(v, parsed.error());
            CHECK(rejection.answerable);  // as any unknown type, with the version's spelling
            CHECK(rejection.to_call_error(v).code ==
                  (v == ProtocolVersion::v16 ? "ProtocolError" : "MessageTypeNotSupported"));
        }
    }
    auto parsed_send = parse_frame(send, {}, ProtocolVersion::v21);
    REQUIRE(parsed_send.ok());
    const auto& s = std::get<ocpp::Send>(parsed_send.value());
    CHECK(s.action == "NotifyPeriodicEventStream");
    CHECK(ocpp::serialize(s).rfind("[6,\"s1\",", 0) == 0);
    auto parsed_error = parse_frame(result_error, {}, ProtocolVersion::v21);
    REQUIRE(parsed_error.ok());
    CHECK(std::get<ocpp::CallResultError>(parsed_error.value()).code == "FormatViolation");
    // 7 is unknown in 2.1 too.
    auto seven = parse_frame(R"([7,"x","Heartbeat",{}])", {}, ProtocolVersion::v21);
    REQUIRE_FALSE(seven.ok());
    CHECK(seven.error().errc == ocpp::Errc::unknown_message_type);
}

TEST_CASE("2.1: broken SEND and CALLRESULTERROR frames are never answered, a broken CALLRESULT gets a CALLRESULTERROR", "[frame]") {
    using ocpp::ProtocolVersion;
    const auto v = ProtocolVersion::v21;
    auto bad_send = parse_frame(R"([6,"s2","NotifyPeriodicEventStream","not an object"])", {}, v);
    REQUIRE_FALSE(bad_send.ok());
    CHECK_FALSE(ocpp::reject_frame(v, bad_send.error()).answerable);
    auto bad_result_error = parse_frame(R"([5,"r2",17,"x",{}])", {}, v);
    REQUIRE_FALSE(bad_result_error.ok());
    CHECK_FALSE(ocpp::reject_frame(v, bad_result_error.error()).answerable);
    auto bad_result = parse_frame(R"([3,"c3","not an object"])", {}, v);
    REQUIRE_FALSE(bad_result.ok());
    const auto rejection = ocpp::reject_frame(v, bad_result.error());
    CHECK(rejection.answerable);
    CHECK(rejection.about_result);
    auto answer = parse_frame(rejection.answer(v), {}, v);
    REQUIRE(answer.ok());
    const auto& e = std::get<ocpp::CallResultError>(answer.value());
    CHECK(e.id.get() == "c3");
    CHECK(e.code == "FormatViolation");
    // The same broken CALLRESULT on 2.0.1 stays unanswered.
    auto old = parse_frame(R"([3,"c3","not an object"])", {}, ProtocolVersion::v201);
    REQUIRE_FALSE(old.ok());
    CHECK_FALSE(ocpp::reject_frame(ProtocolVersion::v201, old.error()).answerable);
}

TEST_CASE("2.1: NotifyPeriodicEventStream only as SEND, other actions only as CALL", "[frame]") {
    using ocpp::ProtocolVersion;
    const auto v = ProtocolVersion::v21;
    const auto payload = nlohmann::json::parse(R"({"id":1,"pending":0,"basetime":"2026-01-01T00:00:00Z","data":[{"t":0,"v":"1"}]})");
    const auto& schemas = test_support::official_schemas();
    CHECK(ocpp::accept_station_call(v, {ocpp::MessageId("a"), "NotifyPeriodicEventStream", payload}, schemas, ocpp::Rpc::send).ok());
    auto as_call = ocpp::accept_station_call(v, {ocpp::MessageId("b"), "NotifyPeriodicEventStream", payload}, schemas);
    REQUIRE_FALSE(as_call.ok());
    CHECK(as_call.error().answerable);
    CHECK(as_call.error().to_call_error(v).code == "NotSupported");
    auto heartbeat_sent = ocpp::accept_station_call(v, {ocpp::MessageId("c"), "Heartbeat", nlohmann::json::object()}, schemas, ocpp::Rpc::send);
    REQUIRE_FALSE(heartbeat_sent.ok());
    CHECK_FALSE(heartbeat_sent.error().answerable);  // nothing answers a SEND
    // Not a 2.0.1 action at all.
    CHECK_FALSE(ocpp::accept_station_call(ProtocolVersion::v201, {ocpp::MessageId("d"), "NotifyPeriodicEventStream", payload}, schemas).ok());
}
