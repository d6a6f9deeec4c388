#include <catch2/catch.hpp>

#include <filesystem>

#include "gateway/security/password.hpp"
#include "gateway/security/registry.hpp"
#include "support.hpp"

using namespace gateway::security;
using ocpp::ProtocolVersion;

namespace {

// Few iterations: the tests check the logic, not the cost.
constexpr unsigned kFast = 1000;

std::string write_file(const std::string& name, const std::string& text) {
    return test_support::write_scratch_file(name + ".yaml", text);
}

}  // namespace

TEST_CASE("the registry checks identity and password, 1.6 passwords also as hex", "[security]") {
    StationRegistry registry;
    const auto file = write_file("registry", "stations:\n"
                                             "  - id: CS01\n"
                                             "    password_hash: \"" + hash_password("0123456789abcdefABCD", kFast) + "\"\n"
                                             "  - id: HEX16\n"
                                             "    password_hash: \"" + hash_password(std::string("\x01\x02\xfe\xff", 4), kFast) + "\"\n"
                                             "  - id: OFF\n"
                                             "    password_hash: \"" + hash_password("x", kFast) + "\"\n"
                                             "    enabled: false\n"
                                             "  - id: NOPASS\n");
    registry.load_file(file);
    CHECK(registry.size() == 4);
    using V = StationRegistry::Verdict;
    CHECK(registry.verify("cs01", "0123456789abcdefABCD", ProtocolVersion::v201) == V::ok);  // case-insensitive id
    CHECK(registry.verify("CS01", "0123456789abcdefABCd", ProtocolVersion::v201) == V::bad_credentials);
    CHECK(registry.verify("CS02", "x", ProtocolVersion::v201) == V::unknown_station);
    CHECK(registry.verify("OFF", "x", ProtocolVersion::v201) == V::disabled);
    CHECK(registry.verify("NOPASS", "", ProtocolVersion::v16) == V::bad_credentials);
    // A 1.6 station sending the key's hex text for a key stored as bytes, and the reverse.
    CHECK(registry.verify("HEX16", "0102FEFF", ProtocolVersion::v16) == V::ok);
    CHECK(registry.verify("HEX16", "0102feff", ProtocolVersion::v16) == V::ok);
    CHECK(registry.verify("HEX16", "0102FEFF", ProtocolVersion::v201) == V::bad_credentials);
    // hexBinary's letter case is free: a key stored as lower-case hex text matches the bytes
    // it spells and its upper-case text, and the reverse.
    const auto cases = write_file("hex-case", "stations:\n"
                                              "  - id: LOWER\n"
                                              "    password_hash: \"" + hash_password("0102feff", kFast) + "\"\n"
                                              "  - id: UPPER\n"
                                              "    password_hash: \"" + hash_password("0102FEFF", kFast) + "\"\n");
    StationRegistry hex;
    hex.load_file(cases);
    for (const char* station : {"LOWER", "UPPER"}) {
        CAPTURE(station);
        CHECK(hex.verify(station, std::string("\x01\x02\xfe\xff", 4), ProtocolVersion::v16) == V::ok);
        CHECK(hex.verify(station, "0102FEFF", ProtocolVersion::v16) == V::ok);
        CHECK(hex.verify(station, "0102feff", ProtocolVersion::v16) == V::ok);
        CHECK(hex.verify(station, "0102FeFf", ProtocolVersion::v16) == V::ok);
        CHECK(hex.verify(station, "0102fefe", ProtocolVersion::v16) == V::bad_credentials);
        CHECK(hex.verify(station, "0102feff", ProtocolVersion::v201) == (std::string(station) == "LOWER" ? V::ok : V::bad_credentials));
    }
    // A key of digits is hex text too: stored as its hex text, it still matches as sent.
    const auto digits = write_file("hex-digits", "stations:\n"
                                                 "  - id: DIGITS\n"
                                                 "    password_hash: \"" + hash_password(hex_encode("12345678901234567890"), kFast) + "\"\n");
    StationRegistry numeric;
    numeric.load_file(digits);
    CHECK(numeric.verify("DIGITS", "12345678901234567890", ProtocolVersion::v16) == V::ok);
    // Cached after success; a changed hash is checked afresh.
    CHECK(registry.verify("cs01", "0123456789abcdefABCD", ProtocolVersion::v201) == V::ok);
    REQUIRE_FALSE(registry.apply_record("CS01", std::string(R"({"stationId":"CS01","passwordHash":")") +
                                                     hash_password("new", kFast) + "\"}"));
    CHECK(registry.verify("CS01", "0123456789abcdefABCD", ProtocolVersion::v201) == V::bad_credentials);
    CHECK(registry.verify("CS01", "new", ProtocolVersion::v201) == V::ok);
    // Removal by tombstone; bad records change nothing.
    CHECK_FALSE(registry.apply_record("CS01", std::nullopt));
    CHECK_FALSE(registry.find("CS01"));
    CHECK(registry.apply_record("CS03", std::string("{\"passwordHash\":\"plain\"}")));
    CHECK(registry.apply_record("CS03", std::string("[1]")));
    CHECK(registry.apply_record("CS03", std::string("{\"stationId\":\"CS04\"}")));
    CHECK(registry.apply_record("bad:id", std::string("{}")));
    const auto deep = registry.apply_record(
        "CS03", R"({"boot": )" + std::string(200'000, '[') + std::string(200'000, ']') + "}");
    REQUIRE(deep);
    CHECK(*deep == "value is not a JSON object: nested deeper than 1024 levels");
    CHECK_FALSE(registry.find("CS03"));
}

TEST_CASE("a bad registry file stops start-up with the entry and the problem", "[security]") {
    StationRegistry registry;
    const std::pair<std::string, std::string> cases[] = {
        {"stations: 3\n", "expected `stations:`"},
        {"stations:\n  - password_hash: x\n", "expected a mapping with `id`"},
        {"stations:\n  - id: \"A:B\"\n", "':'"},
        {"stations:\n  - id: A\n    password_hash: plain\n", "password_hash is not a password hash"},
        {"stations:\n  - id: A\n    pasword_hash: x\n", "unknown key `pasword_hash`"},
        {"stations:\n  - id: A\n  - id: a\n", "listed twice"},
        // Values of the wrong type name the entry, the key and what it takes.
        {"stations:\n  - id: [x]\n", "entry 0: id must be a station identity (line 2)"},
        {"stations:\n  - id: A\n    enabled: maybe\n", "entry 0 (A): enabled must be true or false (line 3)"},
        {"stations:\n  - id: A\n  - id: B\n    heartbeat_interval_s: 5m\n",
         "entry 1 (B): heartbeat_interval_s must be a whole number of seconds, 1 to 86400 (line 4)"},
        {"stations:\n  - id: A\n    pong_timeout_ms: {a: 1}\n", "pong_timeout_ms must be a whole number of milliseconds"},
    };
    for (const auto& [text, message] : cases) {
        INFO(text);
        CHECK_THROWS_WITH(registry.load_file(write_file("bad-registry", text)), Catch::Contains(message));
    }
    CHECK_THROWS_WITH(registry.load_file("/nonexistent/registry.yaml"), Catch::Contains("/nonexistent/registry.yaml"));
    CHECK(registry.empty());
}


TEST_CASE("registry entries carry the boot decision", "[security]") {
    StationRegistry registry;
    const auto file = write_file("registry-boot", "stations:\n"
                                                  "  - {id: NEW1, boot: Pending}\n"
                                                  "  - {id: FAST, heartbeat_interval_s: 30}\n");
    registry.load_file(file);
    CHECK(registry.find("new1")->boot_status == "Pending");
    CHECK(registry.find("FAST")->boot_status.empty());
    CHECK(registry.find("FAST")->heartbeat_interval == std::chrono::seconds(30));

    REQUIRE_FALSE(registry.apply_record("NEW1", std::string(R"({"boot":"Accepted","heartbeatInterval":600})")));
    CHECK(registry.find("NEW1")->boot_status == "Accepted");
    CHECK(registry.find("NEW1")->heartbeat_interval == std::chrono::seconds(600));
    for (const char* bad : {R"({"boot":"accepted"})", R"({"boot":true})", R"({"heartbeatInterval":0})",
                            R"({"heartbeatInterval":"60"})", R"({"heartbeatInterval":86401})"}) {
        CAPTURE(bad);
        CHECK(registry.apply_record("NEW1", std::string(bad)));
    }
    CHECK(registry.find("NEW1")->boot_status == "Accepted");  // unusable records change nothing

    const auto wrong = write_file("registry-boot-bad", "stations:\n  - {id: X1, boot: Maybe}\n");
    CHECK_THROWS_WITH(registry.load_file(wrong), Catch::Matchers::Contains("boot must be Accepted, Pending or Rejected"));
    std::filesystem::remove(file);
    std::filesystem::remove(wrong);
}

TEST_CASE("registry entries override the keep-alive of their stations", "[security]") {
    using namespace std::chrono_literals;
    StationRegistry registry;
    const auto file = write_file("registry-keepalive", "stations:\n"
                                                       "  - {id: QUIET, ping_interval_s: 0}\n"
                                                       "  - {id: NAT, ping_interval_s: 20, pong_timeout_ms: 5000}\n"
                                                       "  - {id: PLAIN}\n");
    registry.load_file(file);
    const Keepalive defaults{60s, 30000ms};
    const auto quiet = keepalive_for(registry.find("quiet"), defaults);
    CHECK(quiet.ping_interval == 0s);
    CHECK(quiet.pong_timeout == 30000ms);
    const auto nat = keepalive_for(registry.find("NAT"), defaults);
    CHECK(nat.ping_interval == 20s);
    CHECK(nat.pong_timeout == 5000ms);
    const auto plain = keepalive_for(registry.find("PLAIN"), defaults);
    CHECK(plain.ping_interval == 60s);
    CHECK(plain.pong_timeout == 30000ms);
    CHECK(keepalive_for(std::nullopt, defaults).ping_interval == 60s);
    // A short ping interval under the default pong timeout: the pong gets half the interval.
    REQUIRE_FALSE(registry.apply_record("NAT", std::string(R"({"pingInterval":10})")));
    CHECK(keepalive_for(registry.find("NAT"), defaults).pong_timeout == 5000ms);
    CHECK(keepalive_for(registry.find("NAT"), defaults).ping_interval == 10s);

    REQUIRE_FALSE(registry.apply_record("NAT", std::string(R"({"pingInterval":25,"pongTimeout":2500})")));
    CHECK(registry.find("NAT")->ping_interval == 25s);
    CHECK(registry.find("NAT")->pong_timeout == 2500ms);
    for (const char* bad : {R"({"pingInterval":-1})", R"({"pingInterval":86401})", R"({"pingInterval":"30"})",
                            R"({"pongTimeout":99})", R"({"pongTimeout":600001})", R"({"pongTimeout":1.5})"}) {
        CAPTURE(bad);
        CHECK(registry.apply_record("NAT", std::string(bad)));
    }
    CHECK(registry.find("NAT")->ping_interval == 25s);  // unusable records change nothing

    for (const auto& [text, message] :
         {std::pair<std::string, std::string>{"stations:\n  - {id: X1, ping_interval_s: -5}\n", "ping_interval_s must be 0"},
          {"stations:\n  - {id: X1, pong_timeout_ms: 50}\n", "pong_timeout_ms must be 100 to 600000"}}) {
        INFO(text);
        CHECK_THROWS_WITH(registry.load_file(write_file("registry-keepalive-bad", text)), Catch::Contains(message));
    }
    std::filesystem::remove(file);
}

TEST_CASE("one identity under two spellings in two partitions: the later record stands, "
          "whichever is read first", "[security]") {
    const std::string disabled = R"({"stationId": "CS-7", "enabled": false})";
    const std::string enabled = R"({"stationId": "cs-7", "enabled": true})";
    // Record times an hour ago: within the day removals are remembered for.
    const std::int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           3'600'000;
    for (const bool newer_first : {false, true}) {
        StationRegistry registry;
        if (newer_first) {
            REQUIRE_FALSE(registry.apply_record("CS-7", disabled, 2, t + 2000));
            const auto older = registry.apply_record("cs-7", enabled, 0, t + 1000);
            REQUIRE(older);
            CHECK_THAT(*older, Catch::Contains("older than the record that stands"));
        } else {
            REQUIRE_FALSE(registry.apply_record("cs-7", enabled, 0, t + 1000));
            REQUIRE_FALSE(registry.apply_record("CS-7", disabled, 2, t + 2000));
        }
        const auto entry = registry.find("Cs-7");
        REQUIRE(entry);
        CHECK_FALSE(entry->enabled);
        CHECK(entry->station_id == "CS-7");  // the spelling of the record that stands
        // A tombstone under the other spelling, later: removed, and the older records of
        // either spelling read after it stay out.
        REQUIRE_FALSE(registry.apply_record("cs-7", std::nullopt, 0, t + 3000));
        CHECK_FALSE(registry.find("CS-7"));
        CHECK(registry.apply_record("CS-7", disabled, 2, t + 2000));
        CHECK_FALSE(registry.find("CS-7"));
    }
}

TEST_CASE("a removal is remembered for a day after it was applied", "[security]") {
    const auto now = std::chrono::system_clock::now();
    constexpr std::int64_t kDay = 24LL * 3600 * 1000;
    const std::int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::string enabled = R"({"enabled": true})";
    StationRegistry registry;
    // A tombstone two days old, read back at start-up.
    REQUIRE_FALSE(registry.apply_record("CS-8", std::nullopt, 0, now_ms - 2 * kDay, now));
    CHECK(registry.apply_record("cs-8", enabled, 1, now_ms - 3 * kDay, now));
    CHECK(registry.apply_record("cs-8", enabled, 1, now_ms - 3 * kDay, now + std::chrono::hours(24)));
    CHECK_FALSE(registry.find("CS-8"));
    CHECK_FALSE(registry.apply_record("cs-8", enabled, 1, now_ms - 3 * kDay,
                                      now + std::chrono::hours(24) + std::chrono::milliseconds(1)));
    CHECK(registry.find("CS-8"));
}
