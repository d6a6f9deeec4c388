#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "gateway/auth.hpp"
#include "gateway/security.hpp"

using namespace gateway;
using ocpp::ProtocolVersion;
using Clock = std::chrono::steady_clock;

namespace {

// Few iterations: the tests check the logic, not the cost.
constexpr unsigned kFast = 1000;

std::string write_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      (name + "-" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path) << text;
    return path.string();
}

std::string basic(const std::string& user_and_password) {
    return "Basic " + base64_encode(user_and_password);
}

}  // namespace

TEST_CASE("station identities are read from the request target", "[security]") {
    struct Case {
        const char* resource;
        int status;  // 0: accepted
        const char* identity;
    };
    const Case cases[] = {
        {"/ocpp/CS01", 0, "CS01"},
        {"/ocpp/CS01?token=x", 0, "CS01"},
        {"/ocpp/CS%2D01", 0, "CS-01"},
        {"/ocpp/cs01", 0, "cs01"},
        {"/ocpp/../admin", 404, ""},
        {"/ocpp/a/b", 404, ""},
        {"/ocpp/", 404, ""},
        {"/ocpp", 404, ""},
        {"/ocppX/CS01", 404, ""},
        {"/other/CS01", 404, ""},
        {"/ocpp/%2F", 400, ""},      // decodes to '/'
        {"/ocpp/%00", 400, ""},      // NUL
        {"/ocpp/%252F", 400, ""},    // decodes once, to "%2F": '%' is not allowed
        {"/ocpp/%2", 400, ""},       // broken escape
        {"/ocpp/CS:01", 400, ""},
        {"/ocpp/%C3%A9", 400, ""},   // non-ASCII
        {"/ocpp/..", 400, ""},       // "." is allowed, but not this way
    };
    for (const auto& c : cases) {
        INFO(c.resource);
        const auto r = parse_station_path(c.resource, "/ocpp");
        if (c.status == 0) {
            REQUIRE(r.ok());
            CHECK(r.value() == c.identity);
        } else {
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().status == c.status);
        }
    }
    CHECK(parse_station_path("/ocpp/" + std::string(48, 'A'), "/ocpp").ok());
    CHECK(parse_station_path("/ocpp/" + std::string(49, 'A'), "/ocpp").error().status == 400);
    CHECK(parse_station_path("/ocpp/" + std::string(5000, '%'), "/ocpp").error().status == 400);
}

TEST_CASE("Basic Authorization headers are parsed strictly", "[security]") {
    const auto ok = parse_basic_authorization(basic("CS01:s3cret:with:colons"));
    REQUIRE(ok.ok());
    CHECK(ok.value().user == "CS01");
    CHECK(ok.value().password == "s3cret:with:colons");
    CHECK(parse_basic_authorization("basic " + base64_encode("a:b")).ok());  // scheme in any case
    for (const std::string& bad : {std::string("Bearer abc"), std::string("Basic"), std::string("Basic !!!!"),
                                  std::string("Basic QUJD="),  // bad length
                                  "Basic " + base64_encode("no-colon"), std::string("Basic QQ==QQ=="),
                                  "Basic " + std::string(2000, 'A')}) {
        INFO(bad);
        CHECK_FALSE(parse_basic_authorization(bad).ok());
    }
    CHECK(base64_decode("TWFu") == std::string("Man"));
    CHECK(base64_decode("TWE=") == std::string("Ma"));
    CHECK(base64_decode("TQ==") == std::string("M"));
    CHECK_FALSE(base64_decode("TQ=A"));
    CHECK(base64_encode("Ma") == "TWE=");
}

TEST_CASE("passwords are stored as salted PBKDF2 hashes", "[security]") {
    const std::string a = hash_password("correct horse", kFast);
    const std::string b = hash_password("correct horse", kFast);
    CHECK(a != b);  // salted
    CHECK(a.rfind("pbkdf2-sha256$1000$", 0) == 0);
    CHECK(a.find("correct") == std::string::npos);
    CHECK(password_matches(a, "correct horse"));
    CHECK(password_matches(b, "correct horse"));
    CHECK_FALSE(password_matches(a, "correct horsf"));
    CHECK_FALSE(password_matches(a, ""));
    CHECK_FALSE(password_hash_error(a));
    for (const char* bad : {"", "plain", "pbkdf2-sha256$10$AAAAAAAAAAA=$AAAA",
                            "pbkdf2-sha1$100000$c2FsdHNhbHQ=$AAAA", "pbkdf2-sha256$x$a$b"}) {
        INFO(bad);
        CHECK(password_hash_error(bad));
        CHECK_FALSE(password_matches(bad, "x"));
    }
}

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
    };
    for (const auto& [text, message] : cases) {
        INFO(text);
        CHECK_THROWS_WITH(registry.load_file(write_file("bad-registry", text)), Catch::Contains(message));
    }
    CHECK_THROWS_WITH(registry.load_file("/nonexistent/registry.yaml"), Catch::Contains("/nonexistent/registry.yaml"));
    CHECK(registry.empty());
}

TEST_CASE("failed attempts back off exponentially per key", "[security]") {
    AttemptThrottle throttle({3, std::chrono::seconds(60), std::chrono::seconds(1),
                              std::chrono::seconds(8), 2});
    const auto t0 = Clock::now();
    CHECK_FALSE(throttle.failure("id:a", t0));
    CHECK_FALSE(throttle.failure("id:a", t0));
    CHECK(throttle.retry_after("id:a", t0).count() == 0);
    CHECK(throttle.failure("id:a", t0));  // third: 1 s, a refusal period starts
    CHECK_FALSE(throttle.failure("id:a", t0));  // within it: no new period (2 s now)
    CHECK(throttle.retry_after("id:a", t0).count() >= 1);
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(3)).count() == 0);
    CHECK(throttle.failure("id:a", t0 + std::chrono::seconds(3)));  // 4 s, a new period
    throttle.failure("id:a", t0 + std::chrono::seconds(8));   // 8 s (the maximum)
    throttle.failure("id:a", t0 + std::chrono::seconds(17));  // stays 8 s
    throttle.failure("id:a", t0 + std::chrono::seconds(19));  // stays 8 s
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(26)).count() >= 1);
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(28)).count() == 0);
    CHECK(throttle.retry_after("id:b", t0).count() == 0);
    throttle.success("id:a");
    CHECK(throttle.retry_after("id:a", t0 + std::chrono::seconds(20)).count() == 0);
    // Bounded: a third key evicts the oldest.
    throttle.failure("k1", t0);
    throttle.failure("k2", t0 + std::chrono::seconds(1));
    throttle.failure("k3", t0 + std::chrono::seconds(2));
    for (int i = 0; i < 3; ++i) {
        throttle.failure("k3", t0 + std::chrono::seconds(2));
    }
    CHECK(throttle.retry_after("k3", t0 + std::chrono::seconds(2)).count() >= 1);
}

TEST_CASE("the token bucket admits its rate and its burst", "[security]") {
    RateLimiter limiter(10, 5);
    const auto t0 = Clock::now();
    int admitted = 0;
    for (int i = 0; i < 20; ++i) {
        admitted += limiter.try_take(t0) ? 1 : 0;
    }
    CHECK(admitted == 5);
    CHECK_FALSE(limiter.try_take(t0 + std::chrono::milliseconds(50)));
    CHECK(limiter.try_take(t0 + std::chrono::milliseconds(110)));
    CHECK_FALSE(limiter.try_take(t0 + std::chrono::milliseconds(120)));
}
