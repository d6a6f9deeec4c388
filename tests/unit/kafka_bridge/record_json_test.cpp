#include <catch2/catch.hpp>

#include "kafka_bridge/record_json.hpp"

#include <string>

using kafka_bridge::kMaxRecordDepth;
using kafka_bridge::parse_record_json;
using kafka_bridge::read_record_json;
using nlohmann::json;

namespace {

/// {"a": [[...[]...]]} with `arrays` arrays: `arrays` + 1 levels in all.
std::string nested(std::size_t arrays) {
    return "{\"a\":" + std::string(arrays, '[') + std::string(arrays, ']') + "}";
}

}  // namespace

TEST_CASE("a record nested up to the bound is read whole, and copies and prints", "[record-json]") {
    const auto read = read_record_json(nested(kMaxRecordDepth - 1));
    REQUIRE(read.ok());
    const json copy = read.value();  // nlohmann's copy and dump recurse once per level
    CHECK(copy.dump().size() == nested(kMaxRecordDepth - 1).size());
    CHECK_FALSE(parse_record_json(nested(kMaxRecordDepth - 1)).is_discarded());
}

TEST_CASE("a record nested deeper than the bound is refused with the reason", "[record-json]") {
    const auto one_more = read_record_json(nested(kMaxRecordDepth));
    REQUIRE_FALSE(one_more.ok());
    CHECK(one_more.error() == "nested deeper than 1024 levels");
    // What fits in Kafka's default 1 MB record: copying this crashed a process on its stack.
    const std::string huge = nested(500'000);
    const auto deep = read_record_json(huge);
    REQUIRE_FALSE(deep.ok());
    CHECK(deep.error() == "nested deeper than 1024 levels");
    CHECK(parse_record_json(huge).is_discarded());
    const auto bounded = read_record_json(nested(10), 5);
    REQUIRE_FALSE(bounded.ok());
    CHECK(bounded.error() == "nested deeper than 5 levels");
}

TEST_CASE("text that is not JSON says where it stops being JSON", "[record-json]") {
    const auto bad = read_record_json(R"({"a":1,})");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error(), Catch::StartsWith("not JSON (at byte "));
    CHECK(parse_record_json("not json").is_discarded());
    const auto big = read_record_json(R"({"a":1e400})");
    REQUIRE_FALSE(big.ok());
    CHECK_THAT(big.error(), Catch::StartsWith("a number out of range"));
    // The same document nlohmann's own parser gives.
    const std::string text = R"({"b":[1,2.5,"x",null,true],"a":{"c":-3},"a":{"d":4}})";
    CHECK(parse_record_json(text) == json::parse(text));
    // A byte order mark before it, as some tools write: skipped, as nlohmann's parser does.
    const std::string bom = "\xEF\xBB\xBF" + text;
    CHECK(parse_record_json(bom) == json::parse(bom));
    REQUIRE(read_record_json(bom).ok());
}
