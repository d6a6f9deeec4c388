// Table-driven checks over the fixture files in tests/fixtures/<version>/.
#include <catch2/catch.hpp>

#include <optional>
#include <set>

#include "ocpp/inbound.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::ProtocolVersion;
using test_support::fixtures_dir;

namespace {

// What the gateway does with a station's text: the CALLERROR it would answer, if any.
std::optional<ocpp::Rejection> inbound(ProtocolVersion v, const std::string& text) {
    auto frame = ocpp::parse_frame(text, {}, v);
    if (!frame.ok()) {
        return ocpp::reject_frame(v, frame.error());
    }
    if (auto* send = std::get_if<ocpp::Send>(&frame.value())) {  // 2.1
        auto accepted = ocpp::accept_station_call(
            v, ocpp::Call{send->id, send->action, send->payload}, test_support::official_schemas(), ocpp::Rpc::send);
        return accepted.ok() ? std::nullopt : std::optional<ocpp::Rejection>(accepted.error());
    }
    auto* call = std::get_if<ocpp::Call>(&frame.value());
    REQUIRE(call != nullptr);
    auto accepted = ocpp::accept_station_call(v, std::move(*call), test_support::official_schemas());
    if (accepted.ok()) {
        return std::nullopt;
    }
    return accepted.error();
}

std::set<std::string> stems(const std::filesystem::path& dir) {
    std::set<std::string> names;
    for (const auto& file : test_support::json_files(dir)) {
        names.insert(file.stem().string());
    }
    return names;
}

}  // namespace

TEST_CASE("every station-initiated action has a valid request fixture", "[fixtures]") {
    for (const auto v : ocpp::kAllVersions) {
        const auto dir = fixtures_dir() / std::string(ocpp::subprotocol(v)) / "requests";
        std::set<std::string> expected;
        for (const auto& info : ocpp::actions(v)) {
            if (info.station_may_send()) {
                expected.emplace(info.name);
            }
        }
        CHECK(stems(dir) == expected);
        for (const auto& file : test_support::json_files(dir)) {
            CAPTURE(file.string());
            const auto action = file.stem().string();
            const auto* info = ocpp::find_action(v, action);
            REQUIRE(info != nullptr);
            auto payload = json::parse(test_support::read_file(file));
            const std::string frame =
                info->rpc == ocpp::Rpc::send
                    ? ocpp::serialize(ocpp::Send{ocpp::MessageId("fx-1"), action, std::move(payload)})
                    : ocpp::serialize(ocpp::Call{ocpp::MessageId("fx-1"), action, std::move(payload)});
            const auto rejection = inbound(v, frame);
            INFO((rejection ? rejection->description : std::string("accepted")));
            CHECK_FALSE(rejection.has_value());
        }
    }
}

TEST_CASE("every centrally-initiated action has a valid response fixture", "[fixtures]") {
    for (const auto v : ocpp::kAllVersions) {
        const auto dir = fixtures_dir() / std::string(ocpp::subprotocol(v)) / "responses";
        std::set<std::string> expected;
        for (const auto& info : ocpp::actions(v)) {
            if (info.central_may_send()) {
                expected.emplace(info.name);
            }
        }
        CHECK(stems(dir) == expected);
        for (const auto& file : test_support::json_files(dir)) {
            CAPTURE(file.string());
            const auto result = test_support::official_schemas().validate(v, file.stem().string(),
                                                    ocpp::SchemaKind::response,
                                                    json::parse(test_support::read_file(file)));
            INFO(result.summary());
            CHECK(result.ok());
        }
    }
}

TEST_CASE("invalid frames get their exact CALLERROR code and id", "[fixtures]") {
    for (const auto v : ocpp::kAllVersions) {
        const auto dir = fixtures_dir() / std::string(ocpp::subprotocol(v)) / "invalid";
        const auto rows = test_support::read_tsv(dir / "cases.tsv");
        CHECK(rows.size() >= 40);
        for (const auto& row : rows) {
            REQUIRE(row.size() >= 3);
            CAPTURE(ocpp::subprotocol(v), row[0], row.size() > 3 ? row[3] : std::string());
            const auto rejection = inbound(v, test_support::read_file(dir / row[0]));
            REQUIRE(rejection.has_value());
            CHECK(rejection->answerable);
            const auto error = rejection->to_call_error(v);
            CHECK(error.code == row[1]);
            CHECK(error.id.get() == row[2]);
            CHECK(error.description.size() <= ocpp::kMaxErrorDescription);
            // The answer itself is a well-formed CALLERROR.
            const auto reparsed = ocpp::parse_frame(ocpp::serialize(error));
            REQUIRE(reparsed.ok());
            CHECK(std::holds_alternative<ocpp::CallError>(reparsed.value()));
        }
    }
}

TEST_CASE("tricky but valid frames are accepted", "[fixtures]") {
    for (const auto v : ocpp::kAllVersions) {
        const auto dir = fixtures_dir() / std::string(ocpp::subprotocol(v)) / "valid-frames";
        const auto rows = test_support::read_tsv(dir / "cases.tsv");
        CHECK(rows.size() >= 8);
        for (const auto& row : rows) {
            REQUIRE(row.size() >= 3);
            CAPTURE(ocpp::subprotocol(v), row[0]);
            const auto text = test_support::read_file(dir / row[0]);
            auto frame = ocpp::parse_frame(text, {}, v);
            REQUIRE(frame.ok());
            const auto& call = std::get<ocpp::Call>(frame.value());
            CHECK(call.action == row[1]);
            CHECK(call.id.get() == row[2]);
            const auto rejection = inbound(v, text);
            INFO((rejection ? rejection->description : std::string("accepted")));
            CHECK_FALSE(rejection.has_value());
        }
    }
}

TEST_CASE("every central-system action new in 2.1 has a valid command fixture", "[fixtures]") {
    const auto dir = fixtures_dir() / "ocpp2.1" / "commands";
    std::set<std::string> expected;
    for (const auto& info : ocpp::actions(ProtocolVersion::v21)) {
        if (info.central_may_send() && ocpp::find_action(ProtocolVersion::v201, info.name) == nullptr) {
            expected.emplace(info.name);
        }
    }
    CHECK(expected.size() == 15);
    CHECK(stems(dir) == expected);
    for (const auto& file : test_support::json_files(dir)) {
        CAPTURE(file.string());
        const auto result = test_support::official_schemas().validate(
            ProtocolVersion::v21, file.stem().string(), ocpp::SchemaKind::request,
            json::parse(test_support::read_file(file)));
        INFO(result.summary());
        CHECK(result.ok());
    }
}
