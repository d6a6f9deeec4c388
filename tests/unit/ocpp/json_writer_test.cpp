#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ocpp/json_writer.hpp"
#include "support.hpp"

using nlohmann::json;

namespace {

// What the writer must give: nlohmann's compact dump, invalid UTF-8 replaced.
std::string reference(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

void agree(const json& value) {
    const std::string theirs = reference(value);
    CAPTURE(theirs);
    CHECK(ocpp::write_json(value) == theirs);
}

double double_from_bits(std::uint64_t bits) {
    double d = 0;
    std::memcpy(&d, &bits, sizeof(d));
    return d;
}

// Strings that exercise escaping: printable runs, every escape, DEL, non-ASCII, bytes that
// are not UTF-8 (stray continuation bytes, truncated sequences, overlong forms, surrogates).
std::string random_string(std::mt19937_64& rng) {
    static const std::vector<std::string> pieces = {
        "a", "Hello", " ", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", std::string(1, '\0'),
        "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x8c", "\xff", "\x80",
        "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "0123456789"};
    std::string out;
    const auto n = rng() % 8;
    for (std::uint64_t i = 0; i < n; ++i) {
        out += pieces[rng() % pieces.size()];
    }
    return out;
}

json random_value(std::mt19937_64& rng, int depth) {
    switch (rng() % (depth > 0 ? 10 : 8)) {
        case 0:
            return nullptr;
        case 1:
            return (rng() & 1U) != 0;
        case 2: {
            static const std::vector<std::int64_t> edges = {0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                                            std::numeric_limits<std::int64_t>::max()};
            return (rng() & 1U) != 0 ? edges[rng() % edges.size()] : static_cast<std::int64_t>(rng());
        }
        case 3:
            return (rng() & 1U) != 0 ? std::numeric_limits<std::uint64_t>::max() : rng();
        case 4: {
            static const std::vector<double> edges = {
                0.0, -0.0, 1.0, -1.5, 0.1, 1e21, 1e-7, 123456789012345680.0, 5e-324, 1.7976931348623157e308,
                std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                -std::numeric_limits<double>::infinity()};
            return (rng() & 1U) != 0 ? edges[rng() % edges.size()] : double_from_bits(rng());
        }
        case 5:
            // Meter readings as stations send them: a few decimals.
            return static_cast<double>(rng() % 10000000) / 1000.0;
        case 6:
        case 7:
            return random_string(rng);
        case 8: {
            json object = json::object();
            const auto n = rng() % 5;
            for (std::uint64_t i = 0; i < n; ++i) {
                object[random_string(rng)] = random_value(rng, depth - 1);
            }
            return object;
        }
        default: {
            json array = json::array();
            const auto n = rng() % 5;
            for (std::uint64_t i = 0; i < n; ++i) {
                array.push_back(random_value(rng, depth - 1));
            }
            return array;
        }
    }
}

}  // namespace

TEST_CASE("values are written as nlohmann's dump writes them", "[json]") {
    agree(json());
    agree(true);
    agree(false);
    agree(json::object());
    agree(json::array());
    agree(json::array({json::object(), json::array(), nullptr}));
    agree(0);
    agree(-42);
    agree(std::numeric_limits<std::int64_t>::min());
    agree(std::numeric_limits<std::uint64_t>::max());
    for (const double d : {0.0, -0.0, 1.0, 2.5, -3.25, 0.1, 1e100, 1e-100, 230.4, 1e21, 1e-7, 5e-324}) {
        agree(d);
    }
    agree(std::numeric_limits<double>::quiet_NaN());  // null, as nlohmann writes it
    agree(std::numeric_limits<double>::infinity());
    agree("plain");
    agree("q\"uote back\\slash /slash");
    agree(std::string("nul\0x", 5));
    agree("tab\tnl\ncr\r\b\f\x01\x1f\x7f");
    agree("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c");
    agree("bad \xff\xfe utf8");
    agree("trunc \xe2\x82");
    agree("overlong \xc0\xaf, surrogate \xed\xa0\x80");
    agree(json{{"z", 1}, {"a", {{"nested", json::array({1, "two", 3.5})}}}, {"\xff key", "v"}});
    agree(json::binary({1, 2, 3}));  // never read from text; nlohmann's form all the same
}

TEST_CASE("the fixtures' payloads are written as nlohmann's dump writes them", "[json]") {
    std::size_t checked = 0;
    for (const char* version : {"ocpp1.6", "ocpp2.0.1"}) {
        for (const auto& file : test_support::json_files(test_support::fixtures_dir() / version / "requests")) {
            agree(json::parse(test_support::read_file(file)));
            ++checked;
        }
    }
    CHECK(checked > 30);
}

TEST_CASE("random trees are written as nlohmann's dump writes them", "[json]") {
    std::mt19937_64 rng(20261204);  // fixed: the same cases every run
    for (int i = 0; i < 3000; ++i) {
        agree(random_value(rng, 4));
    }
}

TEST_CASE("a byte to escape or past ASCII is found wherever it stands", "[json]") {
    // Plain text is checked eight bytes at a time: every position of a word and of the tail.
    const std::vector<std::string> odd = {"\"", "\\", std::string(1, '\0'), "\x1f", "\n", "\x7f", "\xc3\xa9", "\xff"};
    for (std::size_t length = 0; length <= 25; ++length) {
        agree(std::string(length, 'x'));
        for (std::size_t at = 0; at <= length; ++at) {
            for (const auto& c : odd) {
                std::string text(length, 'x');
                text.insert(at, c);
                agree(text);
            }
        }
    }
    agree(std::string(64, ' ') + "~");  // the printable range's ends
}

TEST_CASE("append_json adds to what is there", "[json]") {
    std::string out = "{\"payload\":";
    ocpp::append_json(out, json{{"a", 1}});
    ocpp::append_json_string(out, "x\ny");
    CHECK(out == "{\"payload\":{\"a\":1}\"x\\ny\"");
}

TEST_CASE("UTF-8 is told from what is not", "[json]") {
    CHECK(ocpp::valid_utf8(""));
    CHECK(ocpp::valid_utf8("ascii \x7f"));
    CHECK(ocpp::valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x8c\xf4\x8f\xbf\xbf"));
    CHECK_FALSE(ocpp::valid_utf8("\x80"));
    CHECK_FALSE(ocpp::valid_utf8("\xc3"));
    CHECK_FALSE(ocpp::valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(ocpp::valid_utf8("\xe0\x80\xaf"));      // overlong, three bytes
    CHECK_FALSE(ocpp::valid_utf8("\xed\xa0\x80"));      // a surrogate
    CHECK_FALSE(ocpp::valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(ocpp::valid_utf8("\xf8\x88\x80\x80\x80"));
}

TEST_CASE("text for a log line is quoted, escaped and cut to whole characters", "[json]") {
    CHECK(ocpp::quote("CS-1") == "\"CS-1\"");
    CHECK(ocpp::quote("CS-1\nFORGED line") == "\"CS-1\\nFORGED line\"");
    CHECK(ocpp::quote(std::string("a\xff" "b")) == "\"a\xef\xbf\xbd" "b\"");  // U+FFFD
    CHECK(ocpp::quote(std::string(100, 'x')) == "\"" + std::string(64, 'x') + "\"…");
    // "é" is two bytes: a cut at 3 keeps one of them whole, not a byte and a half.
    CHECK(ocpp::quote("éé", 3) == "\"é\"…");
}
