#include <catch2/catch.hpp>

#include "gateway/security/password.hpp"

using namespace gateway::security;

namespace {

// Few iterations: the tests check the logic, not the cost.
constexpr unsigned kFast = 1000;

}  // namespace

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

