#include <catch2/catch.hpp>

#include <optional>
#include <random>

#include "ocpp/json_reader.hpp"
#include "support.hpp"

using nlohmann::json;
using ocpp::JsonError;
using ocpp::read_json;

namespace {

// nlohmann's verdict on a text: the value, or nothing (syntax error or number overflow).
std::optional<json> reference(const std::string& text) {
    if (text.find('\0') != std::string::npos) {
        return std::nullopt;  // nlohmann stops at a NUL byte; JSON never contains one
    }
    try {
        return json::parse(text);
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

void agree(const std::string& text) {
    CAPTURE(text);
    const auto ours = read_json(text, 10000);
    const auto theirs = reference(text);
    REQUIRE(ours.ok() == theirs.has_value());
    if (theirs) {
        CHECK(ours.value() == *theirs);
        CHECK(ours.value().dump() == theirs->dump());
    }
}

}  // namespace

TEST_CASE("values are read as nlohmann reads them", "[json]") {
    for (const char* text : {
             "0", "-0", "12", "-12", "9223372036854775807", "9223372036854775808",
             "18446744073709551615", "18446744073709551616", "-9223372036854775809",
             "1.5", "-1.25e-3", "1E2", "1e-400", "0.1", "123456789012345678901234567890",
             "true", "false", "null", "\"\"", "\"a\\u00e9\\ud83d\\ude00\\n\\/\"", "\"\xc3\xa9\"",
             "[]", "{}", " [1, [2, {\"a\": [3]}]] ", "{\"a\":1,\"a\":2}", "{\"b\":1,\"a\":2}",
             "\"\\u0000\"",
         }) {
        agree(text);
    }
}

TEST_CASE("malformed texts are refused", "[json]") {
    for (const std::string text : {
             "", " ", "[", "]", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]",
             "[.5]", "[1e]", "[-]", "[+1]", "tru", "nul", "[true false]", "\"abc", "\"\\x\"",
             "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\t\"",
             "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
             "[1] [2]", "[1] x", "NaN", "[Infinity]", "'a'",
         }) {
        CAPTURE(text);
        CHECK_FALSE(read_json(text, 100).ok());
        agree(text);
    }
    CHECK_FALSE(read_json(std::string("[1]\0", 4), 100).ok());
}

TEST_CASE("depth and range are reported as such", "[json]") {
    auto r = read_json("[[[1]]]", 2);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == JsonError::Kind::too_deep);
    CHECK(read_json("[[[1]]]", 3).ok());
    r = read_json("[1e400]", 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == JsonError::Kind::out_of_range);
    r = read_json("[-1e400]", 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == JsonError::Kind::out_of_range);
    // Over or under the range is decided by the value, not by the exponent's sign (found by
    // fuzz_json): 10^399 written with a negative exponent is still too large; 10^-401 written
    // without an exponent is a zero, as nlohmann reads them.
    const std::string huge = "[1" + std::string(400, '0') + "e-1]";
    r = read_json(huge, 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == JsonError::Kind::out_of_range);
    CHECK(nlohmann::json::parse(huge, nullptr, false).is_discarded());
    for (const std::string& tiny : {"[0." + std::string(400, '0') + "1]", "[0." + std::string(400, '0') + "1e5]",
                                   std::string("[-1e-401]")}) {
        INFO(tiny.substr(0, 20));
        r = read_json(tiny, 10);
        REQUIRE(r.ok());
        CHECK(r.value() == nlohmann::json::parse(tiny));
    }
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    r = read_json(deep, 32);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == JsonError::Kind::too_deep);
}

TEST_CASE("fixtures and random mutations of them read as nlohmann reads them", "[json]") {
    std::vector<std::string> seeds;
    for (const char* version : {"ocpp1.6", "ocpp2.0.1"}) {
        const auto root = test_support::fixtures_dir() / version;
        for (const char* dir : {"invalid", "valid-frames"}) {
            for (const auto& row : test_support::read_tsv(root / dir / "cases.tsv")) {
                seeds.push_back(test_support::read_file(root / dir / row[0]));
            }
        }
        for (const auto& file : test_support::json_files(root / "requests")) {
            seeds.push_back(test_support::read_file(file));
        }
    }
    std::mt19937 rng(20261126);  // fixed: the same cases every run
    std::size_t checked = 0;
    for (const auto& seed : seeds) {
        if (seed.size() > 20000) {
            continue;  // the deep-nesting fixtures: covered above
        }
        agree(seed);
        ++checked;
        for (int m = 0; m < 12 && !seed.empty(); ++m) {
            std::string text = seed;
            std::uniform_int_distribution<std::size_t> pos(0, text.size() - 1);
            switch (m % 4) {
                case 0:  // flip a byte
                    text[pos(rng)] = static_cast<char>(rng() & 0xFF);
                    break;
                case 1:  // truncate
                    text.resize(pos(rng));
                    break;
                case 2:  // drop a byte
                    text.erase(pos(rng), 1);
                    break;
                default:  // insert a structural character
                    text.insert(pos(rng), 1, "[]{},:\"\\0e-."[rng() % 13]);
                    break;
            }
            agree(text);
            ++checked;
        }
    }
    CHECK(checked > 3000);
}
