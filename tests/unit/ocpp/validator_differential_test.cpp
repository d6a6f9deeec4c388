// The compiled validator must agree with valijson on every fixture and on systematic
// mutations of them: same verdict, same category of the first violation.
#include <catch2/catch.hpp>

#include <algorithm>

#include "ocpp/compiled_schema.hpp"
#include "ocpp/inbound.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::SchemaKind;
using ocpp::SchemaRegistry;

namespace {

const SchemaRegistry& compiled() {
    static const SchemaRegistry instance({}, SchemaRegistry::Engine::compiled);
    return instance;
}

const SchemaRegistry& general() {
    static const SchemaRegistry instance({}, SchemaRegistry::Engine::general);
    return instance;
}

std::size_t compare(ocpp::ProtocolVersion v, const std::string& action, SchemaKind kind,
                    const json& payload) {
    const auto a = compiled().validate(v, action, kind, payload);
    const auto b = general().validate(v, action, kind, payload);
    CAPTURE(ocpp::subprotocol(v), action, payload.dump(), a.summary(), b.summary());
    CHECK(a.ok() == b.ok());
    if (!a.ok() && !b.ok()) {
        // valijson checks `enum` before `type`, so for 12345 in a string enum it reports the
        // enum first; the compiled validator reports the type (as ajv does), which is the
        // OCPP category for a value of the wrong JSON type. Accepted when valijson lists the
        // same type violation too.
        const auto& first = a.violations.front();
        const bool same = first.errc == b.violations.front().errc;
        const bool type_first = first.errc == ocpp::Errc::type_violation &&
                                std::any_of(b.violations.begin(), b.violations.end(),
                                            [&](const ocpp::Violation& x) {
                                                return x.errc == first.errc && x.path == first.path;
                                            });
        CHECK((same || type_first));
    }
    return 1;
}

// Single-change mutations of a valid payload: each top-level property removed, given a
// value of another type, and an unknown property added.
std::vector<json> mutations(const json& payload) {
    std::vector<json> out;
    for (const auto& [key, value] : payload.items()) {
        json removed = payload;
        removed.erase(key);
        out.push_back(removed);
        json retyped = payload;
        retyped[key] = value.is_string() ? json(12345) : json("text");
        out.push_back(retyped);
        if (value.is_object()) {
            for (const auto& [inner, inner_value] : value.items()) {
                json nested = payload;
                nested[key].erase(inner);
                out.push_back(nested);
                nested = payload;
                nested[key][inner] = inner_value.is_string() ? json(true) : json("text");
                out.push_back(nested);
            }
        }
    }
    json extra = payload;
    extra["unexpectedProperty"] = 1;
    out.push_back(extra);
    return out;
}

}  // namespace

TEST_CASE("compiled and general validators agree on fixtures and mutations", "[schema][differential]") {
    std::size_t compared = 0;
    for (const auto v : ocpp::kAllVersions) {
        const auto root = test_support::fixtures_dir() / std::string(ocpp::subprotocol(v));
        for (const auto& [dir, kind] : {std::pair<const char*, SchemaKind>{"requests", SchemaKind::request},
                                        {"responses", SchemaKind::response}}) {
            for (const auto& file : test_support::json_files(root / dir)) {
                const auto action = file.stem().string();
                const auto payload = json::parse(test_support::read_file(file));
                compared += compare(v, action, kind, payload);
                for (const auto& mutated : mutations(payload)) {
                    compared += compare(v, action, kind, mutated);
                }
            }
        }
        for (const auto& row : test_support::read_tsv(root / "invalid" / "cases.tsv")) {
            auto frame = ocpp::parse_frame(test_support::read_file(root / "invalid" / row[0]));
            if (!frame.ok()) {
                continue;
            }
            const auto* call = std::get_if<ocpp::Call>(&frame.value());
            if (call == nullptr || !compiled().has(v, call->action, SchemaKind::request)) {
                continue;
            }
            compared += compare(v, call->action, SchemaKind::request, call->payload);
        }
    }
    CHECK(compared >= 800);  // 871 when written: the fixtures and their mutations are all used
}

TEST_CASE("every official schema is checked by the compiled validator", "[schema]") {
    for (const auto v : ocpp::kAllVersions) {
        for (const auto& action : compiled().action_names(v)) {
            for (const auto kind : {SchemaKind::request, SchemaKind::response}) {
                if (const auto engine = compiled().engine_of(v, action, kind)) {
                    CAPTURE(ocpp::subprotocol(v), action);
                    CHECK(*engine == SchemaRegistry::Engine::compiled);
                }
            }
        }
    }
}

TEST_CASE("a NUL in a string counts as a character of its length", "[schema]") {
    // valijson measures strings up to their first NUL; the compiled validator counts them all.
    for (const auto v : {ocpp::ProtocolVersion::v201, ocpp::ProtocolVersion::v21}) {
        CAPTURE(ocpp::subprotocol(v));
        const json payload = {{"idToken", {{"idToken", std::string(1, '\0') + std::string(300, 'A')}, {"type", "ISO14443"}}}};
        const auto result = compiled().validate(v, "Authorize", SchemaKind::request, payload);
        REQUIRE_FALSE(result.ok());
        CHECK(result.violations.front().errc == ocpp::Errc::property_violation);
    }
}

TEST_CASE("a schema bounding one side twice is left to the general validator", "[schema]") {
    // Alphabetical order would let minimum overwrite exclusiveMinimum's bound and keep its
    // exclusiveness: 0 refused by {"minimum": 0, "exclusiveMinimum": -5}.
    CHECK_FALSE(ocpp::CompiledSchema::compile(json{{"type", "number"}, {"minimum", 0}, {"exclusiveMinimum", -5}}));
    CHECK_FALSE(ocpp::CompiledSchema::compile(json{{"type", "number"}, {"maximum", 0}, {"exclusiveMaximum", 5}}));
    const auto one = ocpp::CompiledSchema::compile(json{{"type", "number"}, {"exclusiveMinimum", -5}});
    REQUIRE(one);
    std::vector<ocpp::Violation> out;
    CHECK(one->validate(json(0), out, 8));
    CHECK_FALSE(one->validate(json(-5), out, 8));
}
