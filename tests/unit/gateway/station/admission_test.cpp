#include <catch2/catch.hpp>

#include <vector>

#include "gateway/security/basic_auth.hpp"
#include "gateway/security/password.hpp"
#include "gateway/station/admission.hpp"

using namespace gateway;
using security::EventType;
using station::Admission;
using station::Handshake;
using namespace std::chrono_literals;

namespace {

struct RecordedEvents : security::EventSink {
    struct Event {
        EventType type;
        std::string station;
        std::string address;
    };
    std::vector<Event> events;
    void raise(EventType type, const std::string& station_id, const std::string& address,
               const std::string&) override {
        events.push_back({type, station_id, address});
    }
    std::size_t count(EventType type) const {
        return static_cast<std::size_t>(std::count_if(events.begin(), events.end(),
                                                      [&](const Event& e) { return e.type == type; }));
    }
};

struct Fixture {
    config::Config::Security settings;
    security::StationRegistry registry;
    RecordedEvents events;
    metrics::Metrics metrics;
    const Admission::Clock::time_point t0 = Admission::Clock::time_point{} + 1h;

    Fixture() {
        settings.profile = 1;
        settings.failures_per_identity = 3;
        settings.failures_per_address = 100;
        settings.handshakes_per_second = 2;
        settings.connections_per_address = 2;
        settings.max_replacements_per_minute = 2;
        const auto hash = security::hash_password("pw", 1000);
        REQUIRE_FALSE(registry.apply_record("CS-1", std::string(R"({"stationId":"CS-1","passwordHash":")") + hash + "\"}"));
        REQUIRE_FALSE(registry.apply_record("CS-OFF", std::string(R"({"stationId":"CS-OFF","enabled":false,"passwordHash":")") + hash + "\"}"));
    }
};

Handshake handshake(const std::string& id) {
    return Handshake{ocpp::StationId(id), 0, ocpp::ProtocolVersion::v201, std::string("ocpp2.0.1")};
}

std::string basic(const std::string& user, const std::string& password) {
    return "Basic " + security::base64_encode(user + ":" + password);
}

/// The verdict of the password check admit() would run for CS-1 with `password`, run ahead
/// (as the listener does before it reads the request).
security::StationRegistry::Checked checked_ahead(Admission& admission, const Fixture& f, const std::string& password) {
    auto ahead = admission.password_check(handshake("CS-1"), "10.0.0.1", basic("CS-1", password), f.t0);
    REQUIRE(ahead);
    const auto verdict = (*ahead)(f.t0);
    REQUIRE(verdict);
    return *verdict;
}

/// A record for CS-1 with `fields` (JSON members, comma-separated, without braces).
std::string cs1_record(const std::string& fields) { return R"({"stationId":"CS-1",)" + fields + "}"; }

}  // namespace

TEST_CASE("admission checks credentials and refuses with the right status", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto cs1 = handshake("CS-1");
    auto admit = [&](const Handshake& h, std::string auth, std::string ip = "10.0.0.1") {
        return admission.admit(Admission::Candidate{h, std::move(ip), std::move(auth), 0, false, nullptr, std::nullopt, false}, f.t0);
    };
    CHECK_FALSE(admit(cs1, basic("CS-1", "pw")));
    CHECK_FALSE(admit(cs1, basic("cs-1", "pw")));  // identities compare case-insensitively
    CHECK(admit(cs1, "")->status == 401);
    CHECK(admit(cs1, basic("CS-2", "pw"))->reason == "unauthorized");
    CHECK(admit(handshake("CS-9"), basic("CS-9", "pw"))->status == 404);
    CHECK(admit(handshake("CS-OFF"), basic("CS-OFF", "pw"))->reason == "unknown_station");
    CHECK(f.events.count(EventType::auth_failed) == 2);
    CHECK(f.events.count(EventType::unknown_station) == 2);
}

TEST_CASE("failed authentications throttle the identity with a growing back-off", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto cs1 = handshake("CS-1");
    auto at = [&](std::chrono::seconds later, const std::string& password) {
        return admission.admit(Admission::Candidate{cs1, "10.0.0.1", basic("CS-1", password), 0, false, nullptr, std::nullopt, false},
                               f.t0 + later);
    };
    CHECK(at(0s, "bad")->status == 401);
    CHECK(at(0s, "bad")->status == 401);
    CHECK(at(0s, "bad")->status == 401);  // the third failure starts a refusal period
    CHECK(f.events.count(EventType::auth_throttled) == 1);
    const auto throttled = at(0s, "pw");  // even the right password waits: no password work
    REQUIRE(throttled);
    CHECK(throttled->status == 429);
    CHECK(throttled->retry_after >= 1);
    CHECK_FALSE(at(5s, "pw"));  // the period is over
}

TEST_CASE("admission limits upgrades, connections per address and flapping identities", "[station]") {
    Fixture f;
    f.settings.profile = 0;
    security::StationRegistry empty;
    Admission admission(f.settings, empty, f.events, f.metrics);
    // 2 per second, bursts of 4.
    int admitted = 0;
    for (int i = 0; i < 10; ++i) {
        admitted += admission.take_upgrade("10.0.0.1", f.t0) ? 0 : 1;
    }
    CHECK(admitted == 4);
    const auto storm = admission.take_upgrade("10.0.0.1", f.t0);
    REQUIRE(storm);
    CHECK(storm->status == 503);
    CHECK(storm->retry_after == 1);
    CHECK(f.events.count(EventType::limit_hit) == 1);  // once per 10 s, not per refusal
    CHECK_FALSE(admission.take_upgrade("10.0.0.1", f.t0 + 1s));

    const auto cs1 = handshake("CS-1");
    auto candidate = [&](std::size_t from_ip, bool connected) {
        return Admission::Candidate{cs1, "10.0.0.1", "", from_ip, connected, nullptr, std::nullopt, false};
    };
    CHECK(admission.admit(candidate(2, false), f.t0)->reason == "too_many_from_address");
    CHECK_FALSE(admission.admit(candidate(1, true), f.t0));
    CHECK_FALSE(admission.admit(candidate(1, true), f.t0 + 1s));
    const auto flapping = admission.admit(candidate(1, true), f.t0 + 2s);
    REQUIRE(flapping);
    CHECK(flapping->status == 429);
    CHECK(flapping->reason == "identity_flapping");
    CHECK(f.events.count(EventType::duplicate_identity_flapping) == 1);
    CHECK_FALSE(admission.admit(candidate(1, true), f.t0 + 2min));  // a minute later
}

TEST_CASE("profile 3 refuses a client certificate that does not fit the identity", "[station]") {
    Fixture f;
    f.settings.profile = 3;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto cs1 = handshake("CS-1");
    Admission::Candidate c{cs1, "10.0.0.1", "", 0, false,
                           [] { return std::optional<std::string>("certificate CN is CS-2"); }, std::nullopt, false};
    const auto refused = admission.admit(c, f.t0);
    REQUIRE(refused);
    CHECK(refused->status == 401);
    CHECK(refused->reason == "certificate_mismatch");
    CHECK(f.events.count(EventType::certificate_rejected) == 1);
    c.certificate_problem = [] { return std::optional<std::string>(); };
    CHECK_FALSE(admission.admit(c, f.t0));
}

TEST_CASE("password checks the cache cannot answer share a CPU budget", "[station]") {
    Fixture f;
    f.settings.handshakes_per_second = 1000;
    f.settings.password_check_ms_per_second = 1ms;
    f.settings.password_check_burst_ms = 10ms;
    // 200,000 iterations: tens of milliseconds on any machine, over the 10 ms saved up.
    for (const char* id : {"CS-A", "CS-B"}) {
        const auto hash = security::hash_password("pw", 200000);
        REQUIRE_FALSE(f.registry.apply_record(id, std::string(R"({"stationId":")") + id +
                                                      R"(","passwordHash":")" + hash + "\"}"));
    }
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto a = handshake("CS-A");
    const auto b = handshake("CS-B");
    auto admit = [&](const Handshake& h, const std::string& id, Admission::Clock::time_point at) {
        return admission.admit(Admission::Candidate{h, "10.0.0.1", basic(id, "pw"), 0, false, nullptr, std::nullopt, false}, at);
    };
    CHECK_FALSE(admit(a, "CS-A", f.t0));  // 10 ms saved up: PBKDF2 runs, overdraws it
    const auto refused = admit(b, "CS-B", f.t0);
    REQUIRE(refused);
    CHECK(refused->status == 503);
    CHECK(refused->reason == "password_budget");
    CHECK(refused->retry_after == 1);
    CHECK_FALSE(admit(a, "CS-A", f.t0));  // answered from the cache: no budget needed
    CHECK(admit(b, "CS-B", f.t0 + 1ms));  // still overdrawn
    CHECK(f.events.count(EventType::limit_hit) == 1);  // reported once, not per refusal
    CHECK(f.events.count(EventType::auth_failed) == 0);  // a 503 is not a failed password
    CHECK_FALSE(admit(b, "CS-B", f.t0 + 10min));  // refilled
}

TEST_CASE("a password check run before the request is decided stands in for admit's own", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto cs1 = handshake("CS-1");
    auto candidate = [&](const std::string& password, std::optional<security::StationRegistry::Checked> verdict,
                         bool over_budget = false) {
        return Admission::Candidate{cs1, "10.0.0.1", basic("CS-1", password), 0, false, nullptr, verdict, over_budget};
    };

    // Nothing to run ahead: no credentials, another user, an unknown or disabled identity.
    CHECK_FALSE(admission.password_check(cs1, "10.0.0.1", "", f.t0));
    CHECK_FALSE(admission.password_check(cs1, "10.0.0.1", "Bearer x", f.t0));
    CHECK_FALSE(admission.password_check(cs1, "10.0.0.1", basic("CS-2", "pw"), f.t0));
    CHECK_FALSE(admission.password_check(handshake("CS-9"), "10.0.0.1", basic("CS-9", "pw"), f.t0));
    CHECK_FALSE(admission.password_check(handshake("CS-OFF"), "10.0.0.1", basic("CS-OFF", "pw"), f.t0));

    // A cold password: the check runs elsewhere, gives the verdict, and fills the cache.
    auto right = admission.password_check(cs1, "10.0.0.1", basic("cs-1", "pw"), f.t0);
    REQUIRE(right);
    const auto passed = (*right)(f.t0);
    REQUIRE(passed);
    CHECK(passed->verdict == security::StationRegistry::Verdict::ok);
    CHECK(f.registry.verified_recently("CS-1", "pw"));
    CHECK_FALSE(admission.password_check(cs1, "10.0.0.1", basic("CS-1", "pw"), f.t0));  // cached now

    auto wrong = admission.password_check(cs1, "10.0.0.1", basic("CS-1", "bad"), f.t0);
    REQUIRE(wrong);
    const auto verdict = (*wrong)(f.t0);
    REQUIRE(verdict);
    CHECK(verdict->verdict == security::StationRegistry::Verdict::bad_credentials);

    // admit() takes the verdict given instead of checking again, so a wrong password is
    // refused (and counted as a failure) without a second PBKDF2 on the I/O thread.
    const auto refused = admission.admit(candidate("bad", verdict), f.t0);
    REQUIRE(refused);
    CHECK(refused->status == 401);
    CHECK(f.events.count(EventType::auth_failed) == 1);
    CHECK_FALSE(admission.admit(candidate("pw", passed), f.t0));
    // A check that could not run in time is refused like a spent budget.
    const auto busy = admission.admit(candidate("pw", std::nullopt, true), f.t0);
    REQUIRE(busy);
    CHECK(busy->status == 503);
    CHECK(busy->reason == "password_budget");
    CHECK(busy->retry_after == 1);
}

TEST_CASE("a pass checked ahead against a password rotated since is checked again", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto cs1 = handshake("CS-1");
    const auto verdict = checked_ahead(admission, f, "pw");
    REQUIRE(verdict.verdict == security::StationRegistry::Verdict::ok);
    // The operator rotates the leaked password while the request waits for admit().
    REQUIRE_FALSE(f.registry.apply_record("CS-1", cs1_record(R"("passwordHash":")" + security::hash_password("new", 1000) + "\"")));
    const Admission::Candidate old_password{cs1, "10.0.0.1", basic("CS-1", "pw"), 0, false, nullptr, verdict, false};
    const auto refused = admission.admit(old_password, f.t0);
    REQUIRE(refused);
    CHECK(refused->status == 401);
    const Admission::Candidate new_password{cs1, "10.0.0.1", basic("CS-1", "new"), 0, false, nullptr, std::nullopt, false};
    CHECK_FALSE(admission.admit(new_password, f.t0));
}

TEST_CASE("a refusal checked ahead against a password rotated since is checked again", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto verdict = checked_ahead(admission, f, "new");
    REQUIRE(verdict.verdict == security::StationRegistry::Verdict::bad_credentials);
    // The operator gives the station its new password while the request waits for admit().
    REQUIRE_FALSE(f.registry.apply_record("CS-1", cs1_record(R"("passwordHash":")" + security::hash_password("new", 1000) + "\"")));
    const Admission::Candidate new_password{handshake("CS-1"), "10.0.0.1", basic("CS-1", "new"), 0, false, nullptr, verdict, false};
    CHECK_FALSE(admission.admit(new_password, f.t0));
    CHECK(f.events.count(EventType::auth_failed) == 0);
}

TEST_CASE("a pass checked ahead for a station disabled since is refused", "[station]") {
    Fixture f;
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    const auto verdict = checked_ahead(admission, f, "pw");
    REQUIRE(verdict.verdict == security::StationRegistry::Verdict::ok);
    const auto hash = f.registry.find("CS-1")->password_hash;
    REQUIRE_FALSE(f.registry.apply_record("CS-1", cs1_record(R"("enabled":false,"passwordHash":")" + hash + "\"")));
    const Admission::Candidate candidate{handshake("CS-1"), "10.0.0.1", basic("CS-1", "pw"), 0, false, nullptr, verdict, false};
    const auto refused = admission.admit(candidate, f.t0);
    REQUIRE(refused);
    CHECK(refused->status == 404);  // as any disabled identity
    CHECK_FALSE(f.registry.still_holds("CS-1", verdict));
}

TEST_CASE("a refusal checked ahead for a station registered without a password stands", "[station]") {
    Fixture f;
    REQUIRE_FALSE(f.registry.apply_record("CS-NOPW", std::string(R"({"stationId":"CS-NOPW"})")));
    const auto checked = f.registry.verify_for_later("CS-NOPW", "pw", ocpp::ProtocolVersion::v201);
    CHECK(checked.verdict == security::StationRegistry::Verdict::bad_credentials);
    // No second check is needed (one would wait for the budget, and a spent budget would answer
    // 503 instead of 401).
    CHECK(f.registry.still_holds("CS-NOPW", checked));
    const auto unknown = f.registry.verify_for_later("CS-NONE", "pw", ocpp::ProtocolVersion::v201);
    CHECK(unknown.verdict == security::StationRegistry::Verdict::unknown_station);
    CHECK_FALSE(f.registry.still_holds("CS-NONE", unknown));
}

TEST_CASE("password checks run ahead charge the budget and stop when it is spent", "[station]") {
    Fixture f;
    // 1 ms of CPU per second, nothing saved up: one check (about a millisecond at 1,000
    // iterations, PBKDF2-HMAC-SHA256) spends it.
    f.settings.password_check_ms_per_second = 1ms;
    f.settings.password_check_burst_ms = 1ms;
    const auto hash = security::hash_password("pw", 20000);
    for (const char* id : {"CS-A", "CS-B"}) {
        REQUIRE_FALSE(f.registry.apply_record(id, std::string(R"({"stationId":")") + id +
                                                      R"(","passwordHash":")" + hash + "\"}"));
    }
    Admission admission(f.settings, f.registry, f.events, f.metrics);
    auto first = admission.password_check(handshake("CS-A"), "10.0.0.1", basic("CS-A", "pw"), f.t0);
    auto second = admission.password_check(handshake("CS-B"), "10.0.0.1", basic("CS-B", "pw"), f.t0);
    REQUIRE(first);
    REQUIRE(second);  // both asked before either ran: the budget was not spent yet
    const auto first_verdict = (*first)(f.t0);
    REQUIRE(first_verdict);
    CHECK(first_verdict->verdict == security::StationRegistry::Verdict::ok);
    CHECK_FALSE((*second)(f.t0));  // the first spent it: no verdict, admit() answers 503
    CHECK_FALSE(f.registry.verified_recently("CS-B", "pw"));
    // Nothing more is run ahead while it is spent.
    CHECK_FALSE(admission.password_check(handshake("CS-B"), "10.0.0.1", basic("CS-B", "pw"), f.t0));
}
