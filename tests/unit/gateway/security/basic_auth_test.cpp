#include <catch2/catch.hpp>

#include "gateway/security/basic_auth.hpp"

using namespace gateway::security;

namespace {

std::string basic(const std::string& user_and_password) {
    return "Basic " + base64_encode(user_and_password);
}

}  // namespace

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

